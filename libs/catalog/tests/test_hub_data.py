"""The onboarding step's cards and the hub's groups (seed Part 1 step 5 and Part 3) as data."""

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_catalog import load_catalog
from pydantic import ValidationError


def raw_catalog() -> dict[str, Any]:
    text = resources.files("hub_catalog").joinpath("providers.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


SEED_GROUPS = {
    "Advertising Platforms": "Track conversions and sync ad spend",
    "Analytics": "Web analytics and tracking",
    "Marketing": "Email and SMS marketing",
    "Reviews": "Product reviews and UGC",
    "Communication": "Notifications and messaging",
    "Video & Media": "Video hosting and transcription",
    "Productivity": "File storage and scheduling",
    "Payments": "Alternative payout methods and bank verification",
    "Surveys & Feedback": "Post-purchase surveys and customer feedback",
    "Monitoring & Analytics": "Session recording and behavioral analytics",
}


def test_the_seed_groups_carry_their_descriptions_in_order() -> None:
    catalog = load_catalog()
    seed = [(g.name, g.description) for g in catalog.groups if not g.platform]
    assert seed == list(SEED_GROUPS.items())
    assert {p.group for p in catalog.providers} <= {g.name for g in catalog.groups}


def test_the_onboarding_step_has_the_seven_seed_cards() -> None:
    onboarding = load_catalog().onboarding
    assert onboarding.categories == ["marketing", "analytics", "communication", "reviews"]
    by_category = {
        c: [card.provider for card in onboarding.in_category(c)] for c in onboarding.categories
    }
    assert by_category == {
        "marketing": ["meta_ads", "google_ads", "tiktok_ads"],
        "analytics": ["ga4"],
        "communication": ["klaviyo", "slack"],
        "reviews": ["yotpo"],
    }
    recommended = [card.provider for card in onboarding.cards if card.recommended]
    assert recommended == ["meta_ads", "google_ads", "ga4"]
    meta = onboarding.cards[0]
    assert meta.description == "Track conversions and sync ad spend from Facebook & Instagram"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["groups"].pop(0), "providers name groups not in groups"),
        (lambda d: d["groups"].append(dict(d["groups"][0])), "duplicate hub group names"),
        (lambda d: d["onboarding"]["cards"][0].update(provider="sentry"), "not a tenant provider"),
        (lambda d: d["onboarding"]["cards"][0].update(category="x"), "unknown categories"),
        (lambda d: d["onboarding"]["cards"].append(d["onboarding"]["cards"][0]), "two cards"),
    ],
)
def test_inconsistent_hub_data_fails_to_load(tmp_path: Path, change: Any, message: str) -> None:
    data = raw_catalog()
    change(data)
    with pytest.raises(ValidationError, match=message):
        load_catalog(write(tmp_path, data))
