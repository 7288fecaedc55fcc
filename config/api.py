"""The JSON API: one NinjaAPI under /api/v1, one router per app (DESIGN §5a)."""

from ninja import NinjaAPI

from ketapath.accounts.api import router as accounts_router
from ketapath.accounts.api_auth import API_AUTH
from ketapath.audit.api import router as audit_router
from ketapath.clinics.api import router as clinics_router
from ketapath.core.api import JSONRenderer, install_error_handlers
from ketapath.core.health import router as health_router
from ketapath.evaluations.api import router as evaluations_router
from ketapath.medications.api import router as medications_router
from ketapath.notifications.api import router as notifications_router
from ketapath.observations.api import router as observations_router
from ketapath.outcomes.api import router as outcomes_router
from ketapath.outcomes.timeline_api import router as timeline_router
from ketapath.patients.api import router as patients_router
from ketapath.pharmacy.api import router as pharmacy_router
from ketapath.portal.api import router as portal_router
from ketapath.portal.staff_api import router as portal_staff_router
from ketapath.protocols.api import router as protocols_router
from ketapath.questionnaires.api import patient_router as questionnaire_responses_router
from ketapath.questionnaires.api import router as questionnaires_router
from ketapath.scheduling.api import router as scheduling_router
from ketapath.treatments.api import router as treatments_router

api = NinjaAPI(
    title="Ketapath API",
    version="1",
    description=(
        "Clinical platform API. Authenticate with the session cookie (and CSRF token) or "
        "`Authorization: Bearer <token>` from POST /api/v1/auth/token. Lists take `page` and "
        "`page_size` and answer `{items, count}`; errors answer `{detail, code, errors}`."
    ),
    auth=API_AUTH,
    renderer=JSONRenderer(),
    urls_namespace="api",
    docs_url="/docs",
)
install_error_handlers(api)

api.add_router("/", health_router, tags=["health"])
api.add_router("/auth", accounts_router, tags=["auth"])
api.add_router("/clinics", clinics_router, tags=["clinics"])
api.add_router("/patients", patients_router, tags=["patients"])
api.add_router("/audit", audit_router, tags=["audit"])
api.add_router("/questionnaires", questionnaires_router, tags=["questionnaires"])
api.add_router("/", questionnaire_responses_router, tags=["questionnaires"])
api.add_router("/", observations_router, tags=["observations and alerts"])
api.add_router("/", medications_router, tags=["medications"])
api.add_router("/", evaluations_router, tags=["evaluations"])
api.add_router("/protocols", protocols_router, tags=["protocols"])
api.add_router("/", scheduling_router, tags=["scheduling"])
api.add_router("/pharmacy", pharmacy_router, tags=["controlled-substance ledger"])
api.add_router("/", treatments_router, tags=["sessions"])
api.add_router("/", outcomes_router, tags=["outcomes"])
api.add_router("/", notifications_router, tags=["messages and links"])
api.add_router("/", portal_staff_router, tags=["messages and links"])
api.add_router("/", timeline_router, tags=["outcomes"])
api.add_router("/portal", portal_router, tags=["patient links (public)"])
