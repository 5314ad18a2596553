"""A lesson per bundled case, for the page's "About this case" tab (like NetLogo's Info tab).

Each lesson says what the case is, its sources (by author and title, as the scenario file cites
them), three questions to try in the app and what to notice. The questions name the page's own
controls and strategies, so a class can answer them without the documentation. Scenarios without a
lesson get the description and the opening comment of their file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Lesson:
    what: str
    sources: list[str]
    questions: list[str]
    notice: str
    extra: list[str] = field(default_factory=list)


GREENHALGH = ("Greenhalgh T, Papoutsi C. \"Spreading and scaling up innovation and improvement\". "
              "BMJ 2019;365:l2068")

LESSONS: dict[str, Lesson] = {
    "demo": Lesson(
        what="A school physical-activity programme spreading across 300 schools in four regions, with all three "
             "logics of spread on: a central programme that invites and trains schools (mechanical), schools that "
             "adapt it and learn from neighbours (ecological), and schools that follow their peers (social). Central "
             "support lasts five years; the run goes on five more. The values are illustrative.",
        sources=[GREENHALGH],
        questions=[
            "Press Play, then Reset and Play again with the next seed. How different are two runs of the same "
            "settings? Press \"Show 20 runs\" to see the spread.",
            "Double the support capacity (Strategy card) and run again. Does adoption at month 60 rise by more than "
            "the noise you saw?",
            "Set the funding length to \"throughout the run\". What happens after month 60 with and without it?",
        ],
        notice="Adoption climbs while the programme is funded and sags after: sites that had not yet built their own "
               "capacity drop out. Fidelity is measured among the schools still delivering, so it can rise when weak "
               "schools leave: read it beside adoption, never alone."),
    "keystone_michigan": Lesson(
        what="Keystone ICU: a checklist to prevent central-line infections, brought to 103 intensive care units in "
             "Michigan from 2003. It was led by respected clinicians, seen as what a good unit signs up to, and the "
             "units supported each other: it took on the feel of a professional movement.",
        sources=["Pronovost P et al. \"An intervention to decrease catheter-related bloodstream infections in the "
                 "ICU\". N Engl J Med 2006",
                 "Pronovost P et al. \"Sustaining reductions in catheter related bloodstream infections in Michigan "
                 "intensive care units: observational study\". BMJ 2010",
                 "Dixon-Woods M et al. \"Explaining Michigan: developing an ex post theory of a quality improvement "
                 "program\". Milbank Quarterly 2011",
                 GREENHALGH + " (box 4)"],
        questions=[
            "In Compare strategies, run the strategies seen as top down, no collaborative and beside other "
            "initiatives against the baseline. Which of the three mechanisms costs the most adoption?",
            "Run as in England: all three at once. Is the loss larger than the sum of the three alone?",
            "Lower the legitimacy control to 0.3 in the Run view. Does the mean fidelity of the units still "
            "delivering fall, or rise? Why can it rise while adoption falls?",
        ],
        notice="The same checklist and the same programme design spread very differently depending on how it was "
               "seen and whether units learnt from each other: the difference is social, not technical. Compare "
               "with Matching Michigan, the same intervention in England."),
    "matching_michigan": Lesson(
        what="Matching Michigan: the Keystone checklist and a nearly identical phased programme brought to 215 "
             "intensive care units in England from 2009. It was seen as driven by government, ran beside other "
             "infection-control policies, gave little lateral support between units and met change fatigue. "
             "Infections fell, but in line with a background trend.",
        sources=["Bion J et al. \"'Matching Michigan': a 2-year stepped interventional programme to minimise central "
                 "venous catheter-blood stream infections in intensive care units in England\". BMJ Qual Saf 2013",
                 "Dixon-Woods M et al. \"Explaining Matching Michigan: an ethnographic study of a patient safety "
                 "program\". Implementation Science 2013",
                 GREENHALGH + " (box 4)"],
        questions=[
            "Compare professionally led, collaborative and no competing initiatives with the baseline: each "
            "switches one mechanism to Keystone's value. Which helps most?",
            "Run all three together. How close does it come to Keystone's adoption?",
            "Switch the social logic off in the Run view. What is left of the spread?",
        ],
        notice="The units that do adopt may keep decent fidelity even when few adopt: a conditional measure. The "
               "all-site outcomes (adoption, reach, benefit) tell whether the programme spread."),
    "action_schools_bc": Lesson(
        what="Action Schools! BC: a school physical-activity and healthy-eating programme, developed with schools, "
             "tested in 10 schools, then scaled across British Columbia through a cascade of regional trainers and "
             "sustained for more than ten years: a rare top-down scale-up that worked.",
        sources=["McKay HA et al. \"Action Schools! BC implementation: from efficacy to effectiveness to scale-up\". "
                 "Br J Sports Med 2015",
                 "Nettlefold L et al. \"Scaling up Action Schools! BC: how does voltage drop at scale affect student "
                 "level outcomes?\" 2021",
                 GREENHALGH + " (box 2)"],
        questions=[
            "Compare no cascade with the baseline. How many more schools does the cascade reach, and how sure "
            "are you (the interval)?",
            "Does the cascade matter less if it stops when central funding ends (cascade ends with funding)?",
            "Switch the train-the-trainer cascade off in the Run view and double the support capacity instead. "
            "Can central support alone match the cascade?",
        ],
        notice="Trainer sites add support slots as the programme grows, so reach keeps growing after the central "
               "team is full. Each generation of trainers is a step further from the developers: quality drops a "
               "little each time (voltage drop)."),
    "ckm_bass": Lesson(
        what="Medical Innovation: 125 physicians in four Illinois towns adopting a new antibiotic (tetracycline) "
             "from November 1953, fitted as Bass diffusion: an external push (detail men, journals) plus imitation "
             "of the whole community.",
        sources=["Coleman J, Katz E, Menzel H. \"Medical Innovation: A Diffusion Study\". 1966",
                 "Bass FM. \"A new product growth model for consumer durables\". Management Science 1969"],
        questions=[
            "In Compare strategies, run no detailing against the baseline: how much adoption did the push add?",
            "Switch the mechanical logic off: can imitation alone start the spread?",
            "Run again with the next seed a few times: how much do runs of 125 physicians differ?",
        ],
        notice="The S-shape comes from imitation: slow at first, fastest when half have adopted, slow at the end."),
    "ckm_threshold": Lesson(
        what="The same 125 physicians, now on their real advice network: a physician adopts once enough of the "
             "colleagues they ask for advice have adopted (a threshold), or through the external push.",
        sources=["Coleman J, Katz E, Menzel H. \"Medical Innovation: A Diffusion Study\". 1966",
                 "Granovetter M. \"Threshold models of collective behavior\". American Journal of Sociology 1978",
                 "Valente TW. \"Network Models of the Diffusion of Innovations\". 1995"],
        questions=[
            "Click a physician with many ties and one with none: when did each adopt?",
            "Raise the seed sites: does starting with more adopters change the end, or only the speed?",
            "Compare with the Bass version of the same case: which spreads faster, and why?",
        ],
        notice="Physicians who name no advisor are reached only by the push: they adopt late, whatever the network."),
    "lmic_mental_health": Lesson(
        what="Primary mental health care spread to 200 district facilities of a low- or middle-income country with "
             "few specialists, weak infrastructure, high staff turnover and shocks: an adaptive, ecological spread "
             "against a fidelity-first rollout.",
        sources=["Eaton J et al. \"Scale up of services for mental health in low-income and middle-income "
                 "countries\". Lancet 2011",
                 GREENHALGH + " (box 3)",
                 "\"Scaling What Works\": the operating-model article (replication package and assurance loop)"],
        questions=[
            "Compare fidelity first, adaptive and adapt with core protected. Which reaches more facilities?",
            "Which keeps more fidelity among the facilities still delivering, and among how many?",
            "Raise the support capacity to 40. Does more central support overcome the setting?",
        ],
        notice="Little takes hold under any rollout here. Which strategy is a success depends on the outcome you "
               "judge by, and a high fidelity among a handful of facilities is not a success on its own."),
    "pilot_to_scale": Lesson(
        what="A community service that worked in 3 pilot sites because a heroic team held it together, copied to "
             "120 sites where that informal know-how is missing and staff turn over.",
        sources=["\"Scaling What Works\": the operating-model article (replication package and assurance loop)",
                 "NSPCC Scale-up Unit. \"Leadership: Scaling up interventions\""],
        questions=[
            "Compare replication package, assurance loop and operating model (both). Which delivers more benefit?",
            "Set the replication package quality to 0.8 and the staff turnover to 0.1 in the Run view: how much of "
            "the package's value was protection against turnover?",
            "Watch fidelity after month 48, when funding ends: what holds it up with and without the assurance loop?",
        ],
        notice="Know-how that lives in people leaves with them: the replication package is what survives turnover."),
    "social_care_scale_up": Lesson(
        what="An evidence-based family-support programme replicated in about 150 English local authorities, with "
             "five years of implementation support and a third of staff leaving each year.",
        sources=["NSPCC Scale-up Unit (Clark H). \"Leadership: Scaling up interventions\". CYP Now",
                 "\"Scaling What Works\": the operating-model article",
                 "Wong DR, Schaper H, Saldana L. \"Rates of sustainment in the Universal Stages of Implementation "
                 "Completion\". Implementation Science Communications 2022"],
        questions=[
            "How long does an authority take from exploring the programme to full implementation? Click a few sites.",
            "Compare strong package, thin package and more champions: which keeps more authorities delivering?",
            "Halve the staff turnover: how much of the loss was turnover?",
        ],
        notice="Most authorities engage at some point, but few still deliver ten years on: sustainment, not "
               "adoption, is the hard part."),
}


def lesson_for(path: str | Path | None) -> Lesson | None:
    """The lesson of a scenario file (by its name), or None."""
    if path is None:
        return None
    return LESSONS.get(Path(path).stem)


def file_notes(path: str | Path | None, limit: int = 12) -> list[str]:
    """The opening comment of a scenario file, as paragraphs (for scenarios without a lesson)."""
    if path is None or not Path(path).is_file():
        return []
    lines = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    paragraphs = [p.strip() for p in " ".join(x if x else "\n" for x in lines).split("\n") if p.strip()]
    return paragraphs[:limit]
