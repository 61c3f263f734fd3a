"""The onboarding domain's manifest: the wizard that walks a new shop through every channel and its team."""

from __future__ import annotations

from app.lib.domain import Domain
from app.onboarding.views import OnboardingViews

DOMAIN = Domain(
    name="onboarding",
    routes=(OnboardingViews,),
)
