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


#: support units are the programme's currency (``strategy.support.cost`` per supported site-month,
#: 1 by default; assurance rounds and collaboratives have costs of their own)
SUPPORT_UNIT = "support units"
#: the sentence that defines a support unit, for figures and pages that show one
SUPPORT_UNIT_NOTE = ("1 support unit = one site given central support for one month (at the default cost; "
                     "the light-touch tier, assurance rounds, collaboratives and onboarding cost units of their own)")

OUTPUTS: dict[str, Output] = {
    "adopted_share": Output("adopted share", "", True, +1,
                            "share of sites in initial or full implementation"),
    "adopted": Output("sites adopted", "sites", False, +1, "sites in initial or full implementation"),
    "ever_adopted": Output("sites that have ever adopted", "sites", False, +1,
                           "sites that have reached initial implementation at least once (cumulative)"),
    "reach": Output("reach", "people", False, +1,
                    "people reached by sites delivering the programme (all the people of sites in full "
                    "implementation; those of sites in initial implementation as the scenario says)"),
    "reach_share": Output("reach (share of people)", "", True, +1,
                          "share of all the people the sites serve who are reached"),
    "attributable_benefit": Output("attributable benefit", "people-equivalents", False, +1,
                                   "benefit beyond what the same sites would have had without the programme"),
    "attributable_benefit_years": Output("attributable benefit over the run", "person-years", False, +1,
                                         "attributable benefit summed over the months of the run"),
    "sustained_startup": Output("sustained after start-up", "", True, +1,
                                "share of the sites that started up still delivering two years after start-up"),
    "sustained_competent": Output("sustained after full implementation", "", True, +1,
                                  "share of the sites that reached full implementation still delivering two years on"),
    "competence_rate": Output("reached full implementation", "", True, +1,
                              "share of the sites that started up that reached full implementation"),
    "local_cost": Output("support paid locally", SUPPORT_UNIT, False, 0,
                         "trainers' support after central funding ended and onboarding with the replication "
                         "package, paid by the sites"),
    "benefit_per_1000": Output("benefit per 1,000 people", "people-equivalents", False, +1),
    "attributable_per_1000": Output("attributable benefit per 1,000 people", "people-equivalents", False, +1),
    "outcome": Output("outcome burden", "", True, -1, "share of the outcome burden remaining"),
    "benefit_counterfactual": Output("benefit without the programme", "people-equivalents", False, 0),
    "sites": Output("sites", "sites"),
    "mean_fidelity": Output("mean fidelity", "fidelity, 0-1", False, +1,
                            "mean fidelity to the core components among sites in initial or full implementation"),
    "benefit": Output("benefit", "people-equivalents", False, +1,
                      "people reached, weighted by the fidelity and the fit of their site's delivery"),
    "sustained_delivering_12": Output("delivering a year after funding ended", "", True, +1,
                                      "of the programme's sites delivering when its funding ended, the share still "
                                      "delivering 12 months later"),
    "sustained_delivering_24": Output("delivering two years after funding ended", "", True, +1,
                                      "of the programme's sites delivering when its funding ended, the share still "
                                      "delivering 24 months later"),
    "sustained_full_12": Output("in full implementation a year after funding ended", "", True, +1,
                                "of the programme's sites delivering when its funding ended, the share in full "
                                "implementation 12 months later"),
    "sustained_full_24": Output("in full implementation two years after funding ended", "", True, +1,
                                "of the programme's sites delivering when its funding ended, the share in full "
                                "implementation 24 months later"),
    "funding_end_cohort": Output("sites delivering when funding ended", "sites", False, 0,
                                 "the programme's sites (trained or supported by it) delivering in the month its "
                                 "central funding ended: the denominator of the sustained shares"),
    "total_cost": Output("total cost", SUPPORT_UNIT, False, 0,
                         "support used by the programme plus the cost paid locally"),
    "benefit_years_per_unit": Output("attributable benefit per support unit", "person-years per unit", False, +1,
                                     "attributable benefit over the run divided by the total cost"),
    "time_to_50": Output("time to 50% adoption", "months", False, -1,
                         "months until half the sites have adopted"),
    "abandonment": Output("abandonment", "", True, -1,
                          "share of the sites that ever adopted that have discontinued"),
    "equity_gap": Output("equity gap in reach", "", True, -1,
                         "largest minus smallest share of a group's people reached"),
    "support_used": Output("support used", SUPPORT_UNIT, False, 0,
                           "cumulative central support; " + SUPPORT_UNIT_NOTE),
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

#: implementation stages in model order (``simulation.model.STAGES``) with their short labels
STAGE_LABELS: dict[str, str] = {
    "not_engaged": "not engaged",
    "exploration": "exploration",
    "installation": "installation",
    "initial": "initial implementation",
    "full": "full implementation",
    "declined": "declined",
    "discontinued": "discontinued",
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
    "strategy.support.intake_months": "months the programme takes in new sites",
    "strategy.replication_package": "replication package quality",
    "strategy.assurance.interval": "assurance interval (months)",
    "strategy.seeding.n": "seed sites",
    "strategy.seeding.rule": "seeding rule",
    "strategy.train_the_trainer.enabled": "train-the-trainer",
    "strategy.train_the_trainer.trainees": "trainees per trainer",
    "strategy.train_the_trainer.after": "months in full implementation before training others",
    "strategy.train_the_trainer.after_funding": "the cascade goes on after funding ends",
    "strategy.train_the_trainer.max_trainers": "most trainer sites",
    "strategy.collaborative.start": "collaborative starts at month",
    "strategy.collaborative.size": "sites per collaborative",
    "strategy.collaborative.members": "collaborative members",
    "strategy.collaborative.learning": "shared learning in collaboratives",
    "strategy.seeding.stage": "stage the seed sites start in",
    "strategy.seeding.group": "group seeded",
    "strategy.waves.size": "sites per rollout wave",
    "strategy.waves.every": "months between rollout waves",
    "strategy.collaborative.enabled": "collaborative",
    "strategy.adaptation": "adaptation allowed",
    "delivery.drift": "fidelity drift",
    "delivery.entry_fidelity": "fidelity when a site starts delivering",
    "workforce.turnover": "staff turnover",
    "workforce.training": "competence from the programme's training",
    "workforce.learning": "learning by doing",
    "workforce.capacity_decay": "decay of built capacity",
    "workforce.concurrent_initiatives": "concurrent initiatives",
    "workforce.no_champion_risk": "risk without a champion",
    "workforce.fallback": "fall-back when the last champion leaves",
    "stages.abandon": "internal abandonment pressure",
    "stages.progress": "internal progress pressure",
    "stages.routinisation": "routinisation (months)",
    "stages.feedback": "feedback from visible results",
    "stages.competence_for_full": "competence needed for full implementation",
    "stages.fidelity_for_full": "fidelity needed for full implementation",
    "logics.social.norm_keep": "the norm keeps users",
    "logics.mechanical.dependency_fade": "fading of dependency (months)",
    "outcomes.efficacy": "efficacy under perfect delivery",
    "outcomes.initial_reach": "reach of sites in initial implementation",
    "outcomes.trend": "background trend",
    "shocks.rate": "monthly chance of a shock",
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


def scenario_label(name: str) -> str:
    """A scenario's name, shown readably (``keystone_michigan`` reads "keystone michigan")."""
    return _words(name)


def readable(text: str) -> str:
    """Free text with any identifiers in it turned into words, line by line (a title naming a
    scenario, say: "keystone_michigan (seed 1)" reads "keystone michigan (seed 1)")."""
    return "\n".join(_words(line) for line in str(text).split("\n"))


def unit(key: str) -> str:
    """The unit of an output for axes ("" for shares, plain numbers and unknown outputs)."""
    out = OUTPUTS.get(str(key).partition("@")[0])
    return out.unit if out else ""


def help_text(key: str) -> str:
    """One sentence saying what an output counts ("" when there is none)."""
    out = OUTPUTS.get(str(key).partition("@")[0])
    return out.help if out else ""


def direction(key: str) -> str:
    """Which way is better for an output, in words: "higher is better", "lower is better" or
    "neither direction is better"."""
    b = better(key)
    return "higher is better" if b > 0 else "lower is better" if b < 0 else "neither direction is better"


def uses_support_units(key: str) -> bool:
    """Whether an output is counted in support units (figures showing it define the unit)."""
    return unit(key) == SUPPORT_UNIT


def better(key: str) -> int:
    """+1 if higher values of an output are better, -1 if lower are, 0 if neither or unknown."""
    out = OUTPUTS.get(str(key).partition("@")[0])
    return out.better if out else 0


def is_share(key: str) -> bool:
    """Whether an output is a share in [0, 1]."""
    out = OUTPUTS.get(str(key).partition("@")[0])
    return bool(out and out.share)


def _words(text: str) -> str:
    """Identifiers to words: underscores, and dots between letters, become spaces (numbers keep theirs)."""
    text = re.sub(r"_+", " ", str(text))
    text = re.sub(r"(?<=[^\d\s])\.+|\.+(?=[^\d\s])", " ", text)
    return re.sub(r"\s+", " ", text).strip()


#: what a figure's text must not contain: an identifier (``adopted_share``, ``logics.social.q``,
#: ``adopted_share@60``); used by the tests that read every figure's labels
IDENTIFIER = re.compile(r"_|@|[A-Za-z]\.[A-Za-z]")


def identifiers_in(text: str) -> list[str]:
    """The words of ``text`` that look like identifiers (empty when the text reads as words)."""
    return [w for w in re.split(r"\s+", str(text)) if IDENTIFIER.search(w)]


# ----------------------------------------------------------------------------- kinds of output
#: Outputs measured among a SUBSET of the sites (or of their people), with the subset in words.
#: Their value moves when the subset moves: when adoption collapses, the mean fidelity of the few
#: sites still delivering can rise, and so can the share of a shrinking cohort that is sustained.
#: They are shown with their denominator and never get a better/worse verdict (nor a colour) on
#: their own; only outcomes measured over ALL sites do (:func:`verdict_allowed`).
CONDITIONAL: dict[str, str] = {
    "mean_fidelity": "sites still delivering (initial or full implementation)",
    "sustained_delivering_12": "programme's sites delivering when its funding ended",
    "sustained_delivering_24": "programme's sites delivering when its funding ended",
    "sustained_full_12": "programme's sites delivering when its funding ended",
    "sustained_full_24": "programme's sites delivering when its funding ended",
    "sustained_startup": "sites that started up",
    "sustained_competent": "sites that reached full implementation",
    "competence_rate": "sites that started up",
    "abandonment": "sites that ever adopted",
    "equity_gap": "groups of sites (a gap also closes when reach falls everywhere)",
    "funding_end_cohort": "sites supported when funding ended",
}
#: prefixes of conditional outputs (model v3's ``sustained_delivering_12``, ``sustained_full_24``...)
CONDITIONAL_PREFIXES = ("sustained_",)
#: for a conditional output, the all-site share that counts its subset (times the number of sites),
#: where the summary has one
DENOMINATOR_SHARE: dict[str, str] = {"mean_fidelity": "adopted_share"}


def kind(key: str) -> str:
    """``"all"`` (measured over all sites: adoption, reach, benefit, cost), ``"conditional"``
    (among a subset, see :data:`CONDITIONAL`) or ``"none"`` (neither direction is better)."""
    base = str(key).partition("@")[0]
    if base in CONDITIONAL or base.startswith(CONDITIONAL_PREFIXES):
        return "conditional"
    return "all" if better(base) != 0 else "none"


def among(key: str) -> str:
    """The subset a conditional output is measured among, in words ("" for all-site outputs)."""
    base = str(key).partition("@")[0]
    if base in CONDITIONAL:
        return CONDITIONAL[base]
    if base.startswith(CONDITIONAL_PREFIXES):
        return "cohort of sites it follows"
    return ""


def verdict_allowed(key: str) -> bool:
    """Whether a difference in this output may be called better or worse: only outcomes measured
    over all sites, with a direction (never a conditional measure on its own)."""
    return kind(key) == "all"


def with_denominator(key: str, count: float | None = None, total: float | None = None) -> str:
    """A conditional output's label with its denominator: "mean fidelity among the 12 sites still
    delivering (initial or full implementation)" (the plain label for all-site outputs)."""
    label = output_label(key)
    sub = among(key)
    if not sub:
        return label
    if count is not None and count == count:
        n = f"{count:,.0f}" if total is None else f"{count:,.0f} of {total:,.0f}"
        return f"{label} among the {n} {sub}"
    return f"{label} among the {sub}"
