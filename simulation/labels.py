"""Human labels for outputs and parameters: one table, used by every figure, table and page.

Figures, printed tables and the teaching app show people words, never identifiers: an output such
as ``adopted_share`` or a key path such as ``logics.social.q`` is shown through :func:`output_label`
and :func:`param_label`. :data:`OUTPUTS` also says each output's unit, whether it is a share (shown
in percent, differences in percentage points) and which direction is better, so that a paired
difference can be coloured as a gain or a harm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    """How an output is shown.

    Attributes:
        label: short human name (lower case, no identifiers).
        unit: unit for axes ("" for shares and plain numbers).
        share: a share in [0, 1]: shown in percent, differences in percentage points.
        better: +1 if higher is better, -1 if lower is better, 0 if neither (a count of use, say).
        help: one sentence saying what it counts, for pages and legends.
    """

    label: str
    unit: str = ""
    share: bool = False
    better: int = 0
    help: str = ""


#: support units are the programme's currency: one unit = one site supported for one month
SUPPORT_UNIT = "support units (1 = one site supported for a month)"

OUTPUTS: dict[str, Output] = {
    "adopted_share": Output("adopted share", "", True, +1,
                            "share of sites in initial or full implementation"),
    "adopted": Output("sites adopted", "sites", False, +1, "sites in initial or full implementation"),
    "reach": Output("reach", "people", False, +1,
                    "people served by sites delivering the programme"),
    "reach_share": Output("reach (share of people)", "", True, +1,
                          "share of all the people the sites serve who are reached"),
    "mean_fidelity": Output("mean fidelity", "fidelity, 0-1", False, +1,
                            "mean fidelity to the core components among sites delivering"),
    "benefit": Output("benefit", "people-equivalents", False, +1,
                      "people served, weighted by how well the programme is delivered to them"),
    "sustainment": Output("sustainment", "", True, +1,
                          "share of sites in full implementation at the reference month still there 24 months on"),
    "time_to_50": Output("time to 50% adoption", "months", False, -1,
                         "months until half the sites have adopted"),
    "abandonment": Output("abandonment", "", True, -1,
                          "share of the sites that ever adopted that have discontinued"),
    "equity_gap": Output("equity gap in reach", "", True, -1,
                         "largest minus smallest share of a group's people reached"),
    "support_used": Output("support used", SUPPORT_UNIT, False, 0,
                           "cumulative central support, in site-months"),
    "cost_per_sustained_site": Output("support per sustained site", SUPPORT_UNIT, False, -1,
                                      "support used divided by the sites in full implementation at the end"),
    "supported": Output("sites receiving central support", "sites", False, 0),
    "trainers": Output("trainer sites", "sites", False, 0),
    # stage counts
    "not_engaged": Output("not engaged", "sites"),
    "exploration": Output("exploration", "sites"),
    "installation": Output("installation", "sites"),
    "initial": Output("initial implementation", "sites"),
    "full": Output("full implementation", "sites"),
    "declined": Output("declined", "sites", False, -1),
    "discontinued": Output("discontinued", "sites", False, -1),
}

#: parameter key paths shown with a curated name; others are derived by :func:`param_label`
PARAMS: dict[str, str] = {
    "logics.social.q": "peer influence (imitation q)",
    "logics.social.legitimacy": "legitimacy (professionally led)",
    "logics.social.lateral_support": "lateral support between sites",
    "logics.social.bandwagon": "bandwagon norm pressure",
    "logics.social.bandwagon_at": "adopted share where the norm sets in",
    "logics.social.weight": "weight of the social logic",
    "logics.social.abandon": "social abandonment pressure",
    "logics.mechanical.push": "programme invitation (push)",
    "logics.mechanical.train": "training progress rate",
    "logics.mechanical.coach": "coaching of fidelity",
    "logics.mechanical.skill": "competence gain from support",
    "logics.mechanical.dependency": "dependency on support",
    "logics.mechanical.weight": "weight of the mechanical logic",
    "logics.ecological.adapt": "local adaptation rate",
    "logics.ecological.partners": "fit gained from partners",
    "logics.ecological.explore": "self-started exploration",
    "logics.ecological.learn": "self-driven progress",
    "logics.ecological.weight": "weight of the ecological logic",
    "strategy.support.capacity": "support capacity (sites at once)",
    "strategy.support.funding_months": "funding length (months)",
    "strategy.replication_package": "replication package quality",
    "strategy.assurance.interval": "assurance interval (months)",
    "strategy.seeding.n": "seed sites",
    "strategy.seeding.rule": "seeding rule",
    "strategy.train_the_trainer.enabled": "train-the-trainer",
    "strategy.train_the_trainer.trainees": "trainees per trainer",
    "strategy.collaborative.enabled": "collaborative",
    "strategy.adaptation": "adaptation allowed",
    "delivery.drift": "fidelity drift",
    "delivery.entry_fidelity": "fidelity at the start of delivery",
    "workforce.learning": "learning by doing",
    "workforce.training": "competence from training",
    "workforce.capacity_decay": "decay of built capacity",
    "workforce.concurrent_initiatives": "concurrent initiatives",
    "workforce.no_champion_risk": "risk without a champion",
    "workforce.fallback": "fall-back when the last champion leaves",
    "stages.abandon": "internal pressure to abandon",
    "stages.progress": "progress from own capacity",
    "stages.routinisation": "routinisation (months)",
    "stages.feedback": "feedback from visible results",
    "stages.competence_for_full": "competence needed for full implementation",
    "stages.fidelity_for_full": "fidelity needed for full implementation",
    "logics.social.norm_keep": "the norm keeps users",
    "logics.mechanical.dependency_fade": "fading of dependency (months)",
    "outcomes.efficacy": "efficacy",
    "outcomes.trend": "background trend",
    "sites.n": "number of sites",
    "sites.traits.turnover": "staff turnover",
    "sites.traits.fit": "context fit",
    "sites.traits.capacity": "site capacity",
    "sites.traits.leadership": "leadership",
    "sites.traits.champions": "champions",
    "network.p": "rewiring probability",
    "network.k": "ties per site",
}

_WORDS = {"q": "imitation q", "p": "p", "k": "k", "n": "number"}


def output_label(key: str, with_unit: bool = False) -> str:
    """The human label of an output (``adopted_share@60`` reads "adopted share at month 60")."""
    base, _, month = str(key).partition("@")
    out = OUTPUTS.get(base)
    label = out.label if out else _words(base)
    if month:
        label += f" at month {month}"
    if with_unit and out and out.unit:
        label += f" ({out.unit})"
    return label


def param_label(path: str) -> str:
    """The human label of a scenario key path (``logics.social.q`` reads "peer influence (imitation q)")."""
    path = str(path)
    if path in PARAMS:
        return PARAMS[path]
    parts = [p for p in path.split(".") if p not in ("logics", "strategy", "workforce", "delivery", "stages",
                                                      "outcomes", "sites", "traits")]
    if not parts:
        return _words(path)
    last = _WORDS.get(parts[-1], parts[-1])
    return _words(" ".join([*parts[:-1], last]))


def strategy_label(name: str) -> str:
    """A strategy's name, shown readably (``train_the_trainer`` reads "train the trainer")."""
    return _words(name)


def better(key: str) -> int:
    """+1 if higher values of an output are better, -1 if lower are, 0 if neither or unknown."""
    out = OUTPUTS.get(str(key).partition("@")[0])
    return out.better if out else 0


def is_share(key: str) -> bool:
    """Whether an output is a share in [0, 1]."""
    out = OUTPUTS.get(str(key).partition("@")[0])
    return bool(out and out.share)


def _words(text: str) -> str:
    """Identifiers to words: underscores and dots become spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[_.]+", " ", str(text))).strip()
