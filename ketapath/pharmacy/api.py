"""The pharmacy API under /api/v1/pharmacy: stock (receipts, vials, draws, waste,
quarantine, reversals, strengths), counts and losses, and the reports."""

from ninja import Router

from ketapath.pharmacy.api_counts import router as counts_router
from ketapath.pharmacy.api_reports import router as reports_router
from ketapath.pharmacy.api_stock import router as stock_router

router = Router()
router.add_router("", stock_router)
router.add_router("", counts_router)
router.add_router("", reports_router)
