"""The prescriber's decision after the reassessment of a course (issue 9, item 2).

The reassessment itself is computed from responses and MME snapshots by the selectors;
the decision keeps the figures it was made on (``reassessment``), who made it and why. The
course's own ``decision`` and ``rationale`` carry the same words (DESIGN §9).
"""

from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.core.models import BaseModel
from ketapath.scheduling.models import Course


class CourseDecision(BaseModel):
    class Decision(models.TextChoices):
        CONTINUE = "continue", "Continue: further sessions case by case"
        STOP = "stop", "Stop ketamine"
        BEHAVIORAL_HEALTH = "behavioral_health", "Switch to behavioral health"

    course = models.OneToOneField(Course, on_delete=models.PROTECT, related_name="outcome_decision")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    rationale = models.TextField()
    # What justifies more ketamine (required for a continuation).
    benefit = models.TextField(blank=True)
    # What the software proposed, and the reassessment figures shown when deciding.
    recommendation = models.CharField(max_length=24)
    reassessment = models.JSONField(default=dict)
    # Sessions dosed and milligrams given across the course and the courses before it.
    exposure_sessions = models.PositiveIntegerField()
    exposure_mg = models.DecimalField(max_digits=9, decimal_places=2)
    series_completed = models.BooleanField()
    continuation = models.OneToOneField(
        Course, on_delete=models.PROTECT, null=True, blank=True, related_name="continued_from"
    )
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=["continue", "stop", "behavioral_health"]),
                name="decision_valid",
            ),
            models.CheckConstraint(condition=~Q(rationale=""), name="decision_has_rationale"),
            models.CheckConstraint(
                condition=~Q(decision="continue")
                | (~Q(benefit="") & Q(continuation__isnull=False)),
                name="decision_continue_has_benefit_and_course",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.course_id})"
