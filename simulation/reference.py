"""The scenario-file reference, generated from the scenario schema so it cannot drift from the code.

``spreadsim reference`` writes ``docs/scenario-reference.md``: every key of a scenario file, with
its meaning, unit, default, allowed range and source, read from the pydantic models in
:mod:`simulation.scenario` (field descriptions, ``ge``/``le``/``gt`` bounds and the ``unit`` and
``source`` carried in ``json_schema_extra``). ``spreadsim reference --check`` exits with 1 when the
file on disk differs from what the schema gives (a test runs the same check).

Python::

    from simulation.reference import render
    text = render()
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

if typing.TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

# the schema (pydantic) is imported when the reference is rendered, not when `spreadsim --help` runs

#: where the reference lives in a checkout
DEFAULT_PATH = Path("docs") / "scenario-reference.md"

#: the shared sources the schema cites by number (see docs/ODD.md)
SOURCES = {
    "000": 'NIRN, "Why Intentional Planning is Needed for Scaling" (2023)',
    "001": 'NSPCC Scale-up Unit, "Leadership: Scaling up interventions"',
    "002": '"Scaling What Works": operating-model article (replication packages, assurance loops)',
    "003": "THIS Institute guide to spread, scale-up and sustainability (NASSS, Dynamic Sustainability Framework, collaboratives)",
    "004": 'Greenhalgh & Papoutsi, "Spreading and scaling up innovation and improvement", BMJ 2019',
}

#: one line on each section, in file order
SECTION_INTRO = {
    "": "Top-level keys.",
    "sites": "The sites (schools, practices, ICUs, local authorities...): how many, their groups and traits.",
    "sites.traits": "Distributions each site trait is drawn from, for sites the site table does not describe.",
    "network": "The ties between sites through which peers influence each other.",
    "stages": "Implementation stages (NIRN): minimum months in each, what full implementation needs, and what keeps a site going.",
    "logics": "The three logics of spread (Greenhalgh & Papoutsi, source 004) and how their pressures combine.",
    "workforce": "Staff turnover, champions, competence, site capacity, routine (durable local capacity) and change fatigue.",
    "delivery": "Fidelity to the core components: where it starts and how it drifts.",
    "strategy": "The scale-up strategy: what the programme does.",
    "strategy.seeding": "Which sites start (the seeds, at month 0) and the order in which the programme invites the rest.",
    "strategy.support": "The central programme's intensive support (coaching slots): how many sites at once, for how long, at what cost.",
    "strategy.light_touch": "The light-touch tier of support: registration, a one-day workshop and a resource kit for many sites at once (usable with the support slots).",
    "strategy.waves": "Rollout in waves: sites become eligible for support in batches, in seeding order.",
    "strategy.train_the_trainer": "A train-the-trainer cascade: experienced sites become trainers who add support slots.",
    "strategy.assurance": "An assurance loop: regular audit and coaching that repair fidelity drift.",
    "strategy.collaborative": "Breakthrough collaboratives: cohorts of sites linked by new lateral ties, learning together.",
    "shocks": "System-wide shocks (funding cuts, policy change).",
    "outcomes": "What the programme does for the people served, the counterfactual arm, and how outcomes are measured.",
}


# ------------------------------------------------------------------------------------ helpers
def _is_model(t: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(t, type) and issubclass(t, BaseModel)


def _args(annotation: Any) -> tuple:
    return typing.get_args(annotation) or ()


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _literal_values(annotation: Any) -> list | None:
    if typing.get_origin(annotation) is Literal:
        return list(_args(annotation))
    return None


def _fmt_value(v: Any) -> str:
    from .scenario import DIST_PARAMS, Dist

    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, Dist):
        params = ", ".join(f"{k}={_fmt_value(getattr(v, k))}" for k in DIST_PARAMS[v.dist])
        return f"{v.dist}({params})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt_value(x)}" for k, x in v.items()) + "}" if v else "{}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def _default(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.default is not PydanticUndefined:
        return _fmt_value(field.default)
    if field.default_factory is not None:
        return _fmt_value(field.default_factory())
    return "required"


def _bounds(field) -> tuple[str | None, str | None]:
    lo = hi = None
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo = f"≥ {_fmt_value(m.ge)}"
        if getattr(m, "gt", None) is not None:
            lo = f"> {_fmt_value(m.gt)}"
        if getattr(m, "le", None) is not None:
            hi = f"≤ {_fmt_value(m.le)}"
        if getattr(m, "lt", None) is not None:
            hi = f"< {_fmt_value(m.lt)}"
    return lo, hi


def _range(field) -> str:
    """Allowed values: a list of choices, a type with its bounds, and whether null is allowed."""
    ann = field.annotation
    nullable = False
    inner = [ann]
    if _is_union(ann):
        inner = [a for a in _args(ann) if a is not type(None)]
        nullable = len(inner) < len(_args(ann))
    parts = []
    for a in inner:
        lit = _literal_values(a)
        if lit is not None:
            parts.append("one of " + ", ".join(f"`{x}`" for x in lit))
        elif a is bool:
            parts.append("true or false")
        elif a is int or a is float:
            lo, hi = _bounds(field)
            kind = "whole number" if a is int else "number"
            if lo and hi and lo.startswith("≥") and hi.startswith("≤"):
                parts.append(f"{kind} from {lo[2:]} to {hi[2:]}")
            elif lo or hi:
                parts.append(f"{kind} {' and '.join(x for x in (lo, hi) if x)}")
            else:
                parts.append(kind)
        elif a is str:
            parts.append("text")
        elif _is_model(a):
            from .scenario import Dist

            parts.append("a distribution (see below)" if a is Dist else "a section")
        elif typing.get_origin(a) is dict:
            parts.append("a mapping")
        elif typing.get_origin(a) is list:
            parts.append("a list")
        else:
            parts.append(str(a))
    text = "; or ".join(parts)
    return text + ("; or null" if nullable else "")


def _extra(field, key: str) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return str(extra.get(key, "") or "")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or "–"


_CITATION = re.compile(r"\(([^()]*(?:\b1[89]\d\d\b|\b20\d\d\b|source \d{3})[^()]*)\)")


def _meaning_and_source(field) -> tuple[str, str]:
    """The field's meaning and its source: ``json_schema_extra['source']``, else the citations in
    parentheses in its description (a trailing one is moved out of the meaning)."""
    desc = field.description or ""
    source = _extra(field, "source")
    cites = _CITATION.findall(desc)
    if len(cites) == 1 and desc.rstrip().endswith(")") and _CITATION.search(desc).end() == len(desc.rstrip()):
        desc = desc[: _CITATION.search(desc).start()].rstrip()
    if not source and cites:
        source = "; ".join(cites)
    return desc, source


# ------------------------------------------------------------------------------------- render
def _sections(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Every section (model) reachable from ``model``, depth first, in field order."""
    from .scenario import Dist

    out = [(prefix, model)]
    for name, field in model.model_fields.items():
        sub = field.annotation
        if _is_model(sub) and sub is not Dist:
            out.extend(_sections(sub, f"{prefix}.{name}" if prefix else name))
    return out


def _rows(model: type[BaseModel], prefix: str) -> list[list[str]]:
    from .scenario import TRAIT_DOCS, TRAIT_RANGES, Dist, Traits

    rows = []
    for name, field in model.model_fields.items():
        sub = field.annotation
        if _is_model(sub) and sub is not Dist:
            continue  # its own section
        key = f"{prefix}.{name}" if prefix else name
        meaning, source = _meaning_and_source(field)
        if model is Traits:
            doc = TRAIT_DOCS.get(name, meaning)
            cites = _CITATION.findall(doc)
            if cites:
                doc = _CITATION.sub("", doc).rstrip(" ,")
            lo, hi, integer = TRAIT_RANGES[name]
            values = f"{'whole numbers' if integer else 'values'} in [{lo:g}, {hi:g}]"
            rng = ("a distribution (see below) or a number (a constant)" + ("; or `centrality`, `mixed`" if name == "prestige" else "")
                   + f"; {values}")
            rows.append([f"`{key}`", doc, "", _default(field), rng, "; ".join(cites)])
            continue
        rows.append([f"`{key}`", meaning, _extra(field, "unit"), _default(field), _range(field), source])
    return rows


def _table(rows: list[list[str]]) -> list[str]:
    lines = ["| key | meaning | unit | default | allowed values | source |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(c) for c in r) + " |")
    return lines


def _doc_table(docs: dict[str, tuple[str, str, str]], prefix: str) -> list[str]:
    lines = ["| key | meaning | default | allowed values |", "| --- | --- | --- | --- |"]
    for key, (meaning, default, allowed) in docs.items():
        lines.append(f"| `{prefix}{key}` | {_cell(meaning)} | {_cell(default)} | {_cell(allowed)} |")
    return lines


def _analysis_sections() -> list[str]:
    """The ``sensitivity:`` and ``calibration:`` sections, from the tables their parsers check against."""
    from .calibration.spec import ABC_DOCS, OPTIMIZE_DOCS, PRIOR_DOCS
    from .calibration.spec import SECTION_DOCS as CAL
    from .sensitivity.spec import PARAM_DOCS
    from .sensitivity.spec import SECTION_DOCS as SA

    return [
        "## `sensitivity`", "",
        "A global sensitivity analysis, run by `spreadsim sensitivity` (see `scenarios/strategies/demo_sensitivity.yaml`). "
        "Checked by `spreadsim validate` and before any run; `--method`, `--samples`, `--replicates`, `--seed`, "
        "`--strategies` and `--outputs` take precedence over the keys of the same name.", "",
        *_doc_table(SA, "sensitivity."), "",
        "## `sensitivity.parameters[]`", "",
        "Each item of `parameters` is one uncertain input: `{path: logics.social.q, bounds: [0.05, 0.3]}`.", "",
        *_doc_table(PARAM_DOCS, "sensitivity.parameters[]."), "",
        "## `calibration`", "",
        "The unknowns of a calibration to observed data, run by `spreadsim calibrate` (see "
        "`scenarios/cases/ckm_bass.yaml`). Checked by `spreadsim validate` (with the data file) and before any run; "
        "`--data`, `--param`, `--method`, `--targets`, `--holdout`, `--draws`, `--seed` and the budget options take "
        "precedence.", "",
        *_doc_table(CAL, "calibration."), "",
        "## `calibration.parameters.<path>`", "",
        "Each unknown is a dotted key path with its prior: `logics.social.q: {dist: loguniform, low: 0.01, high: 0.5}`.",
        "",
        *_doc_table(PRIOR_DOCS, "calibration.parameters.<path>."), "",
        "## `calibration.abc`", "",
        *_doc_table(ABC_DOCS, "calibration.abc."), "",
        "## `calibration.optimize`", "",
        *_doc_table(OPTIMIZE_DOCS, "calibration.optimize."), "",
    ]


def render() -> str:
    """The reference as Markdown text (deterministic: the same schema gives the same text)."""
    from .scenario import DIST_PARAMS, Dist, Scenario

    lines = [
        "# Scenario file reference",
        "",
        "<!-- Generated by `spreadsim reference` from simulation/scenario.py. Do not edit by hand:",
        "     change the schema and run `spreadsim reference`; a test fails when this file is stale. -->",
        "",
        "A scenario is a YAML file. Every key is optional: a missing key takes the default below. Unknown",
        "keys and values out of range are refused with a message naming the file and the key. Nested keys",
        "are written as dotted paths here (`logics.social.q`); the same paths work with `--set` on the",
        "command line (`spreadsim run scenario.yaml --set logics.social.q=0.2`) and in `strategies:`.",
        "Use `enabled:` for switches: YAML reads a bare `on:` as the boolean true.",
        "",
        "Columns: **unit** (`/month`: a monthly probability or rate; blank: a share, a count or a label),",
        "**default**, **allowed values** (checked when the file is read), **source** (where the value or",
        "mechanism comes from; `–`: a modelling choice documented in docs/ODD.md).",
        "",
    ]
    for prefix, model in _sections(Scenario):
        title = f"`{prefix}`" if prefix else "Top level"
        lines += [f"## {title}", ""]
        doc = " ".join((model.__doc__ or "").split()) if model is not Scenario else ""
        intro = doc or SECTION_INTRO.get(prefix, "")
        lines += ([intro, ""] if intro else []) + _table(_rows(model, prefix)) + [""]
    lines += [
        "## Trait distributions",
        "",
        "Each trait under `sites.traits` is a mapping with `dist` and that family's parameters:",
        "",
        "| dist | parameters | example |",
        "| --- | --- | --- |",
    ]
    examples = {"constant": "{dist: constant, value: 0.3}", "uniform": "{dist: uniform, low: 0.1, high: 0.3}",
                "beta": "{dist: beta, a: 4, b: 3}", "normal": "{dist: normal, mean: 0.5, sd: 0.1}",
                "lognormal": "{dist: lognormal, mean: 6.2, sigma: 0.5}", "poisson": "{dist: poisson, lam: 1.0}"}
    for dist, params in DIST_PARAMS.items():
        lines.append(f"| `{dist}` | {', '.join(f'`{p}`' for p in params)} | `{examples.get(dist, '')}` |")
    lines += ["", _table(_rows(Dist, "sites.traits.<trait>"))[0], _table([])[1]]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in _rows(Dist, "sites.traits.<trait>")]
    lines += ["", "A bare number is a constant (`turnover: 0.25` is `{dist: constant, value: 0.25}`). The values a",
              "distribution names (a constant, uniform bounds, a normal mean, the median `exp(mean)` of a lognormal, a",
              "Poisson mean) must lie in the trait's range: out of range is an error, never clipped; only draws from",
              "the tails of a normal or lognormal are clipped to the range.", ""]
    lines += _analysis_sections()
    lines += ["## Limits", "",
              "Every number must be finite. A whole number without its own upper bound above is at most "
              f"{_limit('MAX_INT')}, any other number at most {_limit('MAX_FLOAT')} in size; a scenario file is at most "
              f"{_limit('MAX_SCENARIO_BYTES')}, nests at most {_limit('MAX_YAML_DEPTH')} levels and may not use YAML aliases "
              "or repeat a key (see `simulation/limits.py`).", ""]
    lines += ["## Sources cited by number", ""]
    lines += [f"- {num}: {cite}" for num, cite in SOURCES.items()]
    lines.append("")
    return "\n".join(lines)


def _limit(name: str) -> str:
    from . import limits

    v = getattr(limits, name)
    if name.endswith("_BYTES"):
        return limits.fmt_bytes(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def write(path: str | Path = DEFAULT_PATH) -> Path:
    """Write the reference to ``path`` atomically (a temporary file, then a rename)."""
    import secrets

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # an exact, unguessable name, created anew (O_EXCL) with the mode the process's umask gives a
    # new file: no need to read or change the umask (which would race with other threads)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(16)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def is_current(path: str | Path = DEFAULT_PATH) -> bool:
    """Whether the file at ``path`` is exactly what the schema gives."""
    path = Path(path)
    return path.is_file() and path.read_text(encoding="utf-8") == render()


def cmd_reference(args) -> int:
    from .errors import fail

    out = Path(args.out)
    if args.check:
        if is_current(out):
            print(f"{out}: up to date")
            return 0
        print(f"{out}: out of date with simulation/scenario.py; run `spreadsim reference`", file=sys.stderr)
        return 1
    if out.exists() and out.is_dir():
        raise fail(str(out), "--out", "is a folder; give a file name such as docs/scenario-reference.md")
    write(out)
    print(f"wrote {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``spreadsim reference``."""
    p = subparsers.add_parser("reference", help="write the scenario-file reference (docs/scenario-reference.md)",
                              description="Generate the scenario-file reference from the scenario schema: every "
                                          "key with its meaning, unit, default, allowed values and source.")
    p.add_argument("--out", default=str(DEFAULT_PATH), help=f"output file (default: {DEFAULT_PATH})")
    p.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is out of date")
    p.set_defaults(func=cmd_reference)
