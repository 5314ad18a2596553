"""Bad and unusual inputs (issue 11): each is one clear message naming the file (or option) and
the key, exit code 2, no traceback, nothing written, and the user's files untouched.

Every case of :data:`CASES` runs the real command line (``simulation.cli.main``) in a folder of its
own, after writing the files it needs, and checks all of that: the exit code, exactly one
``error:`` line holding the expected source and key, no ``Traceback``, no secret echoed, and the
folder's files (names, contents and modes) exactly as they were. Warnings (settings that have no
effect) and the cases that need a process or a cluster have their own tests below.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import pytest

from simulation.cli import main

from .conftest import ROOT, SCENARIOS

BASE = "name: base\nmonths: 12\nsites: {n: 40}\nnetwork: {type: small_world, k: 4}\nstrategy: {seeding: {n: 2}}\n"
SECRET = "s3cr3t-0f-the-user"
SHADOW = f"root:$6$salt${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
ENV = f"SECRET_KEY={SECRET}\nDEBUG=0\n"
SA = ("name: sa\nmonths: 12\nsites: {n: 30}\nnetwork: {type: small_world, k: 4}\n"
      "sensitivity:\n  samples: 4\n  replicates: 1\n  outputs: [adopted_share]\n  parameters:\n"
      "    - {path: logics.social.q, bounds: [0.05, 0.3]}\n    - {path: delivery.drift, bounds: [0.0, 0.05]}\n")
CKM = str(SCENARIOS / "cases" / "ckm_bass.yaml")
USER = {"mine/notes.txt": "my own notes\n", "mine/data.csv": "a,b\n1,2\n"}


def graphml(weight: str) -> str:
    G = nx.Graph()
    G.add_edge("a", "b", weight=1.0)
    G.add_edge("b", "c", weight=2.0)
    text = "\n".join(nx.generate_graphml(G))
    return text.replace('<data key="d0">2.0</data>', f'<data key="d0">{weight}</data>')


@dataclass
class Case:
    """A command, the files it needs ({tmp} is the case's folder), the exit code and the words the
    one error line must hold (the source, the key, and what is wrong)."""

    argv: list[str]
    expect: list[str]
    files: dict[str, str] = field(default_factory=dict)
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)
    sparse: dict[str, int] = field(default_factory=dict)  # file name -> size, made without writing


def _cases() -> dict[str, Case]:
    c: dict[str, Case] = {}
    run = ["run", "{tmp}/s.yaml", "--out", "{tmp}/out"]

    def scen(name: str, text: str, expect: list[str], argv: list[str] | None = None, **files: str) -> None:
        c[name] = Case(argv or run, expect, {"s.yaml": text, **files})

    # ---- data loss: folders spreadsim did not write are never replaced, nor any earlier output without --force
    c["run --out a user's folder"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/mine"], ["--out", "mine", "holds no spreadsim output"],
                                          {"s.yaml": BASE, **USER})
    c["run --out a user's folder, --force"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/mine", "--force"],
                                                   ["--out", "mine", "holds no spreadsim output"], {"s.yaml": BASE, **USER})
    c["run --out a user's file"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/mine/notes.txt"], ["--out", "notes.txt", "is a file"],
                                        {"s.yaml": BASE, **USER})
    c["run --out an earlier output, no --force"] = Case(
        ["run", "{tmp}/s.yaml", "--out", "{tmp}/old"], ["--out", "old", "add --force"],
        {"s.yaml": BASE, "old/manifest.json": json.dumps({"spreadsim_output": "run"}), "old/timeseries.csv": "month\n0\n"})
    c["run --out an earlier output holding a user's file, --force"] = Case(
        ["run", "{tmp}/s.yaml", "--out", "{tmp}/old", "--force"], ["--out", "old", "notes.txt", "never deleted"],
        {"s.yaml": BASE, "old/manifest.json": json.dumps({"spreadsim_output": "run"}), "old/notes.txt": "mine\n"})
    c["run --out ."] = Case(["run", "{tmp}/s.yaml", "--out", "."], ["--out", "current folder"], {"s.yaml": BASE})
    c["run --out under a file"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/mine/notes.txt/x"], ["--out", "notes.txt is a file"],
                                       {"s.yaml": BASE, **USER})
    c["run --out over-long"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/" + "x" * 300], ["--out", "too long"], {"s.yaml": BASE})
    c["run --out on a read-only file system"] = Case(["run", "{tmp}/s.yaml", "--out", "/proc/spreadsim-out", "--no-plot"],
                                                     ["--out", "/proc/spreadsim-out", "cannot create"], {"s.yaml": BASE})
    for cmd, extra in (("ensemble", ["--replicates", "2"]), ("compare", ["--replicates", "2"]),
                       ("sweep", ["--param", "logics.social.q=0.1:0.2:2", "--replicates", "1"])):
        c[f"{cmd} --out a user's folder"] = Case([cmd, "{tmp}/s.yaml", *extra, "--executor", "serial", "--out", "{tmp}/mine"],
                                                 ["--out", "mine", "holds no spreadsim output"], {"s.yaml": BASE, **USER})
        c[f"{cmd} --out a user's folder, --fresh"] = Case(
            [cmd, "{tmp}/s.yaml", *extra, "--executor", "serial", "--out", "{tmp}/mine", "--fresh"],
            ["--out", "mine", "holds no spreadsim output"], {"s.yaml": BASE, **USER})
    c["sensitivity --out a user's folder"] = Case(["sensitivity", "{tmp}/s.yaml", "--executor", "serial", "--out", "{tmp}/mine"],
                                                  ["--out", "mine", "holds no spreadsim output"], {"s.yaml": SA, **USER})
    c["calibrate --out a user's folder"] = Case(["calibrate", CKM, "--executor", "serial", "--out", "{tmp}/mine"],
                                                ["--out", "mine", "holds no spreadsim output"], dict(USER))
    c["forecast --out a user's folder"] = Case(["forecast", CKM, "--posterior", "{tmp}/cal", "--executor", "serial", "--out",
                                                "{tmp}/mine"], ["--out", "mine", "holds no spreadsim output"], dict(USER))
    c["forecast --out a user's file"] = Case(["forecast", CKM, "--posterior", "{tmp}/cal", "--out", "{tmp}/mine/data.csv"],
                                             ["--out", "data.csv", "is a file"], dict(USER))

    # ---- leaks: a private file given by mistake is named, never quoted
    scen("site table is /etc/shadow-like", "sites: {file: shadow}\n", ["shadow", "site", "line 1"], shadow=SHADOW)
    scen("network file is a .env", "network: {type: file, file: .env}\n", [".env", "source", "target"], **{".env": ENV})
    scen("site table is a .env", "sites: {file: .env}\n", [".env", "site"], **{".env": ENV})
    c["scenario file is a .env"] = Case(["run", "{tmp}/.env", "--out", "{tmp}/out"], [".env", "must be a mapping"], {".env": ENV})
    c["calibration data is a .env"] = Case(["calibrate", CKM, "--data", "{tmp}/.env", "--executor", "serial", "--out", "{tmp}/out"],
                                           [".env", "month"], {".env": ENV})
    scen("a text value is not echoed", f"months: {SECRET}\n", ["s.yaml", "months", "line 1"])
    scen("an unknown choice is not echoed", f"network: {{type: {SECRET}}}\n", ["s.yaml", "network.type", "line 1"])

    # ---- half-made experiment folders
    scen("seeding fails in a strategy's runs", BASE + "strategies:\n  many: {strategy.seeding.n: 500}\n",
         ["s.yaml", "strategy.seeding.n", "cannot seed 500", "many"],
         ["compare", "{tmp}/s.yaml", "--replicates", "2", "--executor", "serial", "--out", "{tmp}/out"])
    scen("seeding fails in a sensitivity sample's runs", SA.replace("delivery.drift, bounds: [0.0, 0.05]",
                                                                    "strategy.seeding.n, bounds: [1, 100]"),
         ["s.yaml", "strategy.seeding.n", "cannot seed"], ["sensitivity", "{tmp}/s.yaml", "--executor", "serial",
                                                          "--out", "{tmp}/out"])
    scen("a by_group seeding group that no site has", BASE, ["--set", "strategy.seeding.group", "groups: all"],
         ["ensemble", "{tmp}/s.yaml", "--set", "strategy.seeding.rule=by_group", "--set", "strategy.seeding.group=nowhere",
          "--replicates", "2", "--executor", "serial", "--out", "{tmp}/out"])

    # ---- crashes and memory
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    scen("YAML alias bomb", bomb, ["s.yaml", "aliases", "line 2"])
    scen("100,000 nested [", "[" * 100_000, ["s.yaml", "nests", "line 1"])
    scen("a number of 5,000 digits", "months: " + "9" * 5000 + "\n", ["s.yaml", "digits", "line 1"])
    scen("two YAML documents", "months: 12\n---\nmonths: 24\n", ["s.yaml", "more than one YAML document"])
    c["/dev/zero as scenario"] = Case(["run", "/dev/zero", "--out", "{tmp}/out"], ["/dev/zero", "not a regular file"])
    scen("/dev/zero as network", "network: {type: file, file: /dev/zero}\n", ["/dev/zero", "not a regular file"])
    c["a huge scenario file"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/out"], ["s.yaml", "at most 1 MiB"],
                                     sparse={"s.yaml": 2 << 30})
    c["a huge network file"] = Case(["run", "{tmp}/s.yaml", "--out", "{tmp}/out"], ["e.csv", "at most 256 MiB"],
                                    {"s.yaml": "network: {type: file, file: e.csv}\n"}, sparse={"e.csv": 3 << 30})
    scen("50,000,000 sites", "sites: {n: 50000000}\n", ["s.yaml", "sites.n", "would need about", "the limit is 8 GiB"])
    c["50,000,000 sites"].env = {"SPREADSIM_MEMORY_LIMIT": "8G"}
    scen("complete network of 20,000 sites", "sites: {n: 20000}\nnetwork: {type: complete}\n",
         ["s.yaml", "network.type", "would need about", "the limit is 8 GiB"])
    c["complete network of 20,000 sites"].env = {"SPREADSIM_MEMORY_LIMIT": "8G"}
    scen("uniform low .nan", "sites: {traits: {fit: {dist: uniform, low: .nan, high: 1}}}\n",
         ["s.yaml", "sites.traits.fit.low", "finite", "line 1"])
    scen("poisson lam 1e30", "sites: {traits: {champions: {dist: poisson, lam: 1e30}}}\n",
         ["s.yaml", "sites.traits.champions.lam", "at most", "got 1e+30"])
    scen("poisson lam beyond the trait's range", "sites: {traits: {champions: {dist: poisson, lam: 2.0e9}}}\n",
         ["s.yaml", "sites.traits.champions", "lam must lie in [0, 1e+09]"])
    scen("capacity 10**30", f"strategy: {{support: {{capacity: {10**30}}}}}\n", ["s.yaml", "strategy.support.capacity", "at most"])
    scen("waves.size 10**30", f"strategy: {{waves: {{every: 6, size: {10**30}}}}}\n", ["s.yaml", "strategy.waves.size", "at most"])
    scen("a group share .inf", "sites: {groups: {a: .inf, b: 1}}\n", ["s.yaml", "sites.groups.a", "finite"])
    scen("cost .inf", "strategy: {support: {cost: .inf}}\n", ["s.yaml", "strategy.support.cost", "finite"])
    scen("a constant trait .nan", "sites: {traits: {fit: .nan}}\n", ["s.yaml", "sites.traits.fit", "finite"])
    scen("a number above the float bound", "strategy: {support: {cost: 1e300}}\n", ["s.yaml", "strategy.support.cost", "at most"])
    for w in ("inf", "NaN", "1e400"):
        scen(f"edge weight {w}", "network: {type: file, file: e.csv}\n", ["e.csv", "weight", "line 3"],
             **{"e.csv": f"source,target,weight\na,b,1\nb,c,{w}\n"})
        scen(f"GraphML weight {w}", "network: {type: file, file: g.graphml}\n", ["g.graphml", "weight", "edge 2"],
             **{"g.graphml": graphml(w)})
    c["run --seed -1"] = Case(["run", "{tmp}/s.yaml", "--seed", "-1", "--out", "{tmp}/out"], ["--seed", "at least 0"], {"s.yaml": BASE})
    c["run --seed 2**64"] = Case(["run", "{tmp}/s.yaml", "--seed", str(2**64), "--out", "{tmp}/out"], ["--seed", "at most"],
                                 {"s.yaml": BASE})
    scen("header-only site table, seeding.n 0", "sites: {file: t.csv}\nnetwork: {type: none}\nstrategy: {seeding: {n: 0}}\n",
         ["t.csv", "site", "no sites"], **{"t.csv": "site,capacity\n"})
    c["sensitivity --samples 2**40"] = Case(["sensitivity", "{tmp}/s.yaml", "--samples", str(2**40), "--out", "{tmp}/out"],
                                            ["--samples", "at most"], {"s.yaml": SA})
    c["sensitivity samples: 2**40 in the file"] = Case(["sensitivity", "{tmp}/s.yaml", "--out", "{tmp}/out"],
                                                       ["s.yaml", "sensitivity.samples", "1048576"],
                                                       {"s.yaml": SA.replace("samples: 4", f"samples: {2**40}")})
    c["sensitivity asking 10**9 runs"] = Case(["sensitivity", "{tmp}/s.yaml", "--samples", str(2**20), "--replicates", "1000",
                                               "--out", "{tmp}/out"], ["--samples", "model runs", "at most"], {"s.yaml": SA})
    c["ensemble --replicates 10**12"] = Case(["ensemble", "{tmp}/s.yaml", "--replicates", str(10**12), "--out", "{tmp}/out"],
                                             ["--replicates", "at most"], {"s.yaml": BASE})
    cal = ["calibrate", CKM, "--data", "{tmp}/obs.csv", "--executor", "serial", "--out", "{tmp}/out"]
    c["an observed month of 10**12"] = Case(cal, ["obs.csv", "month", "at most", "line 3"],
                                            {"obs.csv": f"month,ever_adopted\n0,1\n{10**12},5\n"})
    c["negative observed counts"] = Case(cal, ["obs.csv", "ever_adopted", "negative", "line 3"],
                                         {"obs.csv": "month,ever_adopted\n0,1\n1,-4\n"})
    c["an observed share above 1"] = Case(cal, ["obs.csv", "adopted_share", "[0, 1]"],
                                          {"obs.csv": "month,adopted_share\n0,0.1\n1,1.5\n"})
    c["all-blank observed data"] = Case(cal, ["obs.csv", "no observed value"], {"obs.csv": "month,ever_adopted\n0,\n1,\n2,\n"})
    c["observed data of infinite counts"] = Case(cal, ["obs.csv", "ever_adopted", "finite"],
                                                 {"obs.csv": "month,ever_adopted\n0,1\n1,inf\n"})

    # ---- silent acceptances
    scen("a constant turnover of 25", "sites: {traits: {turnover: 25}}\n", ["s.yaml", "sites.traits.turnover", "[0, 1]", "line 1"])
    scen("uniform bounds outside the trait's range", "sites: {traits: {fit: {dist: uniform, low: -1, high: 2}}}\n",
         ["s.yaml", "sites.traits.fit", "[0, 1]"])
    scen("a fractional constant of champions", "sites: {traits: {champions: 1.5}}\n", ["s.yaml", "sites.traits.champions", "whole"])
    scen("network.file without type: file", "network: {file: e.csv}\n", ["s.yaml", "network.file", "type: file"],
         **{"e.csv": "source,target\na,b\n"})
    scen("a blank group cell", "sites: {file: t.csv}\nnetwork: {type: none}\nstrategy: {seeding: {n: 1}}\n",
         ["t.csv", "group", "line 3"], **{"t.csv": "site,group\na,x\nb,\nc,y\n"})
    scen("rule: sites with no sites", "strategy: {seeding: {rule: sites}}\n", ["s.yaml", "strategy.seeding.sites", "none are listed"])
    scen("duplicate YAML keys", "months: 12\nsites: {n: 40}\nmonths: 24\n", ["s.yaml", "duplicate key 'months'", "line 3", "line 1"])
    scen("a tie listed twice with different weights", "network: {type: file, file: e.csv}\n",
         ["e.csv", "weight", "different weights", "lines 2, 3"], **{"e.csv": "source,target,weight\na,b,1\nb,a,2\n"})
    c["validate: a broken sensitivity section"] = Case(["validate", "{tmp}/s.yaml"],
                                                       ["s.yaml", "sensitivity.parameters[0].path", "did you mean 'social'"],
                                                       {"s.yaml": SA.replace("logics.social.q", "logics.socal.q")})
    c["validate: a broken calibration section"] = Case(
        ["validate", "{tmp}/s.yaml"], ["s.yaml", "calibration.parameters.logics.social.q.high", "above low"],
        {"s.yaml": BASE + "calibration:\n  parameters:\n    logics.social.q: {low: 0.5, high: 0.1}\n"})
    c["validate: calibration data that is blank"] = Case(
        ["validate", "{tmp}/s.yaml"], ["obs.csv", "no observed value"],
        {"s.yaml": BASE + "calibration:\n  data: obs.csv\n  parameters:\n    logics.social.q: {low: 0.0, high: 0.5}\n",
         "obs.csv": "month,adopted\n0,\n1,\n"})
    c["--baseline with a typo"] = Case(["compare", "{tmp}/s.yaml", "--baseline", "fsat", "--replicates", "2", "--out", "{tmp}/out"],
                                       ["--baseline", "no strategy 'fsat'", "did you mean 'fast'"],
                                       {"s.yaml": BASE + "strategies:\n  fast: {strategy.support.capacity: 60}\n"})
    c["a bad --set value"] = Case(["run", "{tmp}/s.yaml", "--set", "logics.social.q=2", "--out", "{tmp}/out"],
                                  ["--set", "logics.social.q", "less than or equal to 1"], {"s.yaml": BASE})
    c["a control character in the scenario file"] = Case(run, ["s.yaml", "line 2", "column 10", "#x0007", "not allowed"],
                                                         {"s.yaml": "name: a\nmonths: 1\x072\n"})
    c["a control character in a --set value"] = Case(["run", "{tmp}/s.yaml", "--set", "name=a\x01b", "--out", "{tmp}/out"],
                                                     ["--set", "name", "#x0001", "not allowed"], {"s.yaml": BASE})
    c["a bad --set key"] = Case(["run", "{tmp}/s.yaml", "--set", "logics.social.qq=1", "--out", "{tmp}/out"],
                                ["--set", "logics.social.qq", "did you mean 'q'"], {"s.yaml": BASE})
    c["a bad --set mapping"] = Case(["run", "{tmp}/s.yaml", "--set", "strategy.support={capacity: -3}", "--out", "{tmp}/out"],
                                    ["--set", "strategy.support.capacity", "greater than or equal to 0"], {"s.yaml": BASE})
    c["--months 0"] = Case(["run", "{tmp}/s.yaml", "--months", "0", "--out", "{tmp}/out"], ["--months", "at least 1"], {"s.yaml": BASE})
    c["--months beyond the longest horizon"] = Case(["run", "{tmp}/s.yaml", "--months", "200000", "--out", "{tmp}/out"],
                                                    ["--months", "100000"], {"s.yaml": BASE})
    c["an alias in --set"] = Case(["run", "{tmp}/s.yaml", "--set", "shocks.months=[&a 1, *a]", "--out", "{tmp}/out"],
                                  ["--set", "shocks.months", "aliases"], {"s.yaml": BASE})
    c["a non-finite --set value"] = Case(["run", "{tmp}/s.yaml", "--set", "strategy.support.cost=.nan", "--out", "{tmp}/out"],
                                         ["--set", "strategy.support.cost", "finite"], {"s.yaml": BASE})
    c["an unreachable --scheduler"] = Case(["ensemble", "{tmp}/s.yaml", "--replicates", "2", "--scheduler", "tcp://127.0.0.1:{port}",
                                            "--out", "{tmp}/out"], ["--scheduler", "cannot connect"], {"s.yaml": BASE})

    # ---- issue 19: structure the generators would clip, memory from the real ties, silent acceptances
    scen("regions, p_within 1, at 50,000 sites", "sites: {n: 50000}\nnetwork: {type: regions, regions: 4, p_within: 1, "
         "p_between: 0}\n", ["s.yaml", "network.p_within", "would need about", "624,950,000 tie entries", "the limit is 8 GiB"])
    c["regions, p_within 1, at 50,000 sites"].env = {"SPREADSIM_MEMORY_LIMIT": "8G"}
    c["validate: regions, p_within 1, at 50,000 sites"] = Case(
        ["validate", "{tmp}/s.yaml"], ["s.yaml", "network.p_within", "would need about", "the limit is 8 GiB"],
        {"s.yaml": "sites: {n: 50000}\nnetwork: {type: regions, regions: 4, p_within: 1, p_between: 0}\n"},
        env={"SPREADSIM_MEMORY_LIMIT": "8G"})
    c["ensemble: regions, p_within 1, at 50,000 sites"] = Case(
        ["ensemble", "{tmp}/s.yaml", "--replicates", "2", "--executor", "serial", "--out", "{tmp}/out"],
        ["s.yaml", "would need about", "the limit is 8 GiB"],
        {"s.yaml": "sites: {n: 50000}\nnetwork: {type: regions, regions: 4, p_within: 1, p_between: 0}\n"},
        env={"SPREADSIM_MEMORY_LIMIT": "8G"})
    scen("more regions than sites", "sites: {n: 50}\nnetwork: {type: regions, regions: 1000}\n",
         ["s.yaml", "network.regions", "1,000 regions for 50 sites", "at most 50"])
    c["ensemble: more regions than sites"] = Case(
        ["ensemble", "{tmp}/s.yaml", "--replicates", "2", "--executor", "serial", "--out", "{tmp}/out"],
        ["s.yaml", "network.regions", "at most 50"], {"s.yaml": "sites: {n: 50}\nnetwork: {type: regions, regions: 1000}\n"})
    scen("a random network's degree above n - 1", "sites: {n: 50}\nnetwork: {type: random, degree: 1000000000}\n",
         ["s.yaml", "network.degree", "at most 49"])
    scen("regions too small for the degree", "sites: {n: 40}\nnetwork: {type: regions, regions: 8, degree: 20}\n",
         ["s.yaml", "network.degree", "smallest of the 8 regions has 5 sites"])
    scen("a negative shock month", "shocks: {months: [-3, 5]}\n", ["s.yaml", "shocks.months", "from 0", "-3"])
    scen("a blank group name", "sites: {n: 40, groups: {'  ': 0.5, b: 0.5}}\n", ["s.yaml", "sites.groups", "blank"])
    scen("site ids equal after Unicode normalisation", "sites: {file: t.csv}\nnetwork: {type: none}\n"
         "strategy: {seeding: {n: 1}}\n", ["t.csv", "site", "Unicode form", "lines 2, 3"],
         **{"t.csv": "site,capacity\ncaf\u00e9,0.5\ncafe\u0301,0.2\n"})
    scen("edge-list ids equal after Unicode normalisation", "network: {type: file, file: e.csv}\n"
         "strategy: {seeding: {n: 1}}\n", ["e.csv", "source/target", "Unicode form", "lines 2, 3"],
         **{"e.csv": "source,target\ncaf\u00e9,b\ncafe\u0301,c\n"})
    scen("a ragged site-table row", "sites: {file: t.csv}\nnetwork: {type: none}\nstrategy: {seeding: {n: 1}}\n",
         ["t.csv", "line 2 has 3 fields", "ragged row"], **{"t.csv": "site,capacity\na,0.5,extra\nb,0.2\n"})
    scen("a site-table column named twice", "sites: {file: t.csv}\nnetwork: {type: none}\nstrategy: {seeding: {n: 1}}\n",
         ["t.csv", "capacity", "appears twice"], **{"t.csv": "site,capacity,capacity\na,0.5,0.2\n"})
    c["observed months after the end of the run"] = Case(cal, ["obs.csv", "month", "month 500 is after the end of the run",
                                                              "36", "line 3"], {"obs.csv": "month,ever_adopted\n0,1\n500,5\n"})
    c["observed data with a column named twice"] = Case(cal, ["obs.csv", "adopted", "appears twice"],
                                                        {"obs.csv": "month,adopted,adopted\n0,1,2\n1,2,3\n"})
    c["a falling cumulative count"] = Case(cal, ["obs.csv", "ever_adopted", "cannot decrease", "line 4"],
                                           {"obs.csv": "month,ever_adopted\n0,1\n1,5\n2,3\n"})
    c["a ragged row of observed data"] = Case(cal, ["obs.csv", "line 2", "ragged row"],
                                              {"obs.csv": "month,adopted\n0,1,7\n1,2\n"})
    c["validate: observed months after the end of the run"] = Case(
        ["validate", "{tmp}/s.yaml"], ["obs.csv", "month", "after the end of the run"],
        {"s.yaml": BASE + "calibration:\n  data: obs.csv\n  parameters:\n    logics.social.q: {low: 0.0, high: 0.5}\n",
         "obs.csv": "month,adopted\n0,1\n50,3\n"})
    for v in ("5", "0"):
        c[f"--min-acceptance {v}"] = Case(["calibrate", CKM, "--executor", "serial", "--min-acceptance", v, "--out", "{tmp}/out"],
                                          ["--min-acceptance", "(0, 1]"])
    c["calibration.abc.min_acceptance: 5"] = Case(
        ["validate", "{tmp}/s.yaml"], ["s.yaml", "calibration.abc.min_acceptance", "(0, 1]"],
        {"s.yaml": BASE + "calibration:\n  abc: {min_acceptance: 5}\n  parameters:\n    logics.social.q: {low: 0.0, high: 0.5}\n"})
    return c


CASES = _cases()


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``: its content hash (files) and mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest() if st.st_size < 1 << 20 else st.st_size
            out[str(p.relative_to(root))] = (digest, st.st_mode)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_message_and_nothing_is_written(name, tmp_path, capsys, monkeypatch):
    case = CASES[name]
    work = tmp_path / "work"
    work.mkdir()
    for rel, text in case.files.items():
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for rel, size in case.sparse.items():
        with open(work / rel, "wb") as f:
            f.truncate(size)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    from simulation.experiments import core

    monkeypatch.setattr(core, "CONNECT_TIMEOUT", "2s")
    monkeypatch.chdir(work)  # default output folders (results/...) would land here
    before = snapshot(work)
    port = free_port()
    argv = [a.replace("{tmp}", str(work)).replace("{port}", str(port)) for a in case.argv]
    code = main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == case.code, err
    assert len(errors) == 1, err
    for words in case.expect:
        assert words in errors[0], (words, errors[0])
    assert "Traceback" not in err and SECRET not in err
    assert snapshot(work) == before, "files were written or changed"
    assert not Path("/proc/spreadsim-out").exists()


def test_the_number_of_cases_handled():
    # the count reported on issue 11: each case above is an input that was mishandled before
    assert len(CASES) >= 59


# ------------------------------------------------------------------------ a read-only folder
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_read_only_out(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(BASE)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["run", str(tmp_path / "s.yaml"), "--out", str(ro / "x")]) == 2
        assert "not writable" in capsys.readouterr().err and not (ro / "x").exists()
    finally:
        ro.chmod(0o755)


def test_read_only_out_as_seen_by_the_check(tmp_path, capsys, monkeypatch):
    """The same rule where the tests run as root: the folder check is what refuses it."""
    import simulation.safe_io as safe_io

    (tmp_path / "s.yaml").write_text(BASE)
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(safe_io.os, "access", lambda p, mode: False if Path(p) == ro else real(p, mode))
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(ro / "x")]) == 2
    err = capsys.readouterr().err
    assert f"error: --out: {ro / 'x'}: cannot create it: {ro} is not writable" in err
    assert list(ro.iterdir()) == []


# ------------------------------------------------------------------------ replacing outputs
def test_force_replaces_only_an_earlier_spreadsim_output(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "-q", "--no-plot"]) == 0
    first = (out / "manifest.json").read_text()
    assert json.loads(first)["spreadsim_output"] == "run"
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "-q", "--no-plot", "--seed", "5"]) == 2
    assert (out / "manifest.json").read_text() == first  # refused without --force
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "-q", "--no-plot", "--seed", "5", "--force"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.yaml"]  # no temporaries left beside it


def test_fresh_replaces_another_commands_output(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "-q", "--no-plot"]) == 0
    assert main(["ensemble", str(tmp_path / "s.yaml"), "--replicates", "2", "--executor", "serial", "--out", str(out),
                 "-q", "--no-plot"]) == 2
    assert main(["ensemble", str(tmp_path / "s.yaml"), "--replicates", "2", "--executor", "serial", "--out", str(out),
                 "-q", "--no-plot", "--fresh"]) == 0
    assert not (out / "sites.csv").exists() and (out / "runs.csv").exists()


KILLED = """
import os, sys
from pathlib import Path
import simulation.safe_io as io
out, replace, when = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
real = os.replace
calls = []
def dying_replace(a, b):
    real(a, b)
    calls.append(b)
    if when == "between" and ".spreadsim-old-" in str(b):
        os._exit(9)  # killed between setting the earlier output aside and moving the new one in
io.os.replace = dying_replace
with io.atomic_dir(out, "run", replace=replace) as tmp:
    (tmp / "timeseries.csv").write_text("month\\n0\\n")
    (tmp / "manifest.json").write_text('{"spreadsim_output": "run"}')
    if when == "inside":
        os._exit(9)  # killed while writing
"""


def killed(out, when: str, replace: bool = False) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED, str(out), "1" if replace else "0", when], cwd=ROOT)
    assert proc.returncode == 9


def test_stale_temporaries_of_a_killed_command_are_cleaned(tmp_path):
    """What a killed command leaves is recognised by the record in it, never by its name: its
    temporary folder is removed, an earlier output it had set aside comes back; a user's folders
    named like them stay."""
    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "out"
    killed(out, "inside")
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".out.spreadsim-tmp-")]
    assert len(stale) == 1 and (stale[0] / "timeseries.csv").exists()
    mine = tmp_path / ".out.spreadsim-tmp-1-0123abcd"  # named like an old temporary: the user's
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "-q", "--no-plot"]) == 0
    assert not stale[0].exists() and (out / "manifest.json").exists()
    assert (mine / "notes.txt").read_text() == "mine"
    first = (out / "timeseries.csv").read_bytes()
    # killed between setting the earlier output aside and moving the new one in: it comes back
    killed(out, "between", replace=True)
    assert not out.exists()
    assert main(["validate", str(tmp_path / "s.yaml")]) == 0
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "-q", "--no-plot", "--seed", "3", "--force"]) == 0
    assert (out / "manifest.json").exists() and (out / "timeseries.csv").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.spreadsim-tmp-1-0123abcd", "out", "s.yaml"]


def test_a_killed_experiment_session_is_recorded_and_its_temporaries_removed(tmp_path):
    """A killed session's temporaries carry its token, recorded before they were made: they are
    removed. Files named like temporaries without a recorded token are the user's: kept."""
    from simulation.safe_io import Record, temp_name

    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "e"
    args = ["ensemble", str(tmp_path / "s.yaml"), "--replicates", "3", "--executor", "serial", "--out", str(out), "-q",
            "--no-plot"]
    assert main(args) == 0
    man = json.loads((out / "manifest.json").read_text())
    man["sessions"].append({"started": "x", "status": "running"})  # as a SIGKILL leaves it
    (out / "manifest.json").write_text(json.dumps(man))
    tok = Record.read(out).data["sessions"][-1]
    for name in (temp_name("manifest.json", tok), temp_name("runs.csv", tok), "runs/" + temp_name("x.parquet", tok)):
        (out / name).write_text("partial")
    for name in (".tmp-manifest.json.1a2b3c4d", "runs/.tmp-x.parquet"):  # the user's, named like temporaries
        (out / name).write_text("mine")
    assert main(args) == 0
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["complete", "killed", "complete"]
    assert not [p for p in out.rglob(f"*.{tok}.tmp")]
    assert (out / ".tmp-manifest.json.1a2b3c4d").read_text() == "mine" and (out / "runs/.tmp-x.parquet").read_text() == "mine"


# -------------------------------------------------------------------------- written first
def test_results_are_written_before_printing_into_a_closed_pipe(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "e"
    cmd = f"{sys.executable} -m simulation.cli ensemble {tmp_path / 's.yaml'} --replicates 3 --executor serial " \
          f"--out {out} --no-plot 2>{tmp_path / 'err'} | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, timeout=120)
    assert proc.returncode == 0
    for name in ("runs.csv", "summary.csv", "ensemble.csv", "manifest.json"):
        assert (out / name).is_file(), name
    assert "Traceback" not in (tmp_path / "err").read_text()


# -------------------------------------------------------------------------------- warnings
WARNINGS = {
    "misspelled site-table column": ("sites: {file: t.csv}\nnetwork: {type: none}\nstrategy: {seeding: {n: 1}}\n",
                                     {"t.csv": "site,capcity\na,0.5\nb,0.2\n"}, "t.csv: capcity: column 'capcity' is not used (did you mean 'capacity'?"),
    "seeding.group with rule random": ("strategy: {seeding: {rule: random, group: rural}}\n", {},
                                       "s.yaml: strategy.seeding.group: has no effect with rule 'random' (only rule 'by_group' seeds a group first) (line 2, column 36)"),
    "seeding.n beside listed sites": ("strategy: {seeding: {rule: sites, sites: [1, 2], n: 7}}\n", {},
                                      "s.yaml: strategy.seeding.n: has no effect: the 2 sites listed"),
    "a network parameter of another type": ("network: {type: random, k: 8}\n", {},
                                            "s.yaml: network.k: has no effect with network.type 'random'"),
    "sites.n beside a site table": ("sites: {n: 99, file: t.csv}\nnetwork: {type: none}\nstrategy: {seeding: {n: 1}}\n",
                                    {"t.csv": "site\na\nb\n"}, "s.yaml: sites.n: has no effect: the site table gives the sites"),
    "a repeated edge": ("network: {type: file, file: e.csv}\nstrategy: {seeding: {n: 1}}\n",
                        {"e.csv": "source,target\na,b\nb,c\nb,a\n"}, "e.csv: source/target: 1 repeated ties ignored, on line 4"),
    "a self-tie": ("network: {type: file, file: e.csv}\nstrategy: {seeding: {n: 1}}\n",
                   {"e.csv": "source,target\na,b\nb,b\n"}, "e.csv: source/target: a site tied to itself on line 3"),
    "a strategy's setting with no effect": ("strategies:\n  g: {strategy.seeding.group: rural}\n", {},
                                            "s.yaml: strategies.g: strategy.seeding.group: has no effect"),
    "an intake that closes after funding ends": ("strategy: {support: {funding_months: 4, intake_months: 5}}\n", {},
                                                  "s.yaml: strategy.support.intake_months: has no effect: the programme "
                                                  "takes in sites until month 4 anyway (its funding ends then)"),
    "an intake that closes after the run": ("strategy: {support: {funding_months: null, intake_months: 6}}\n", {},
                                            "s.yaml: strategy.support.intake_months: has no effect: the programme "
                                            "takes in sites until month 6 anyway (the run ends then)"),
    "sustain_window longer than the run": ("outcomes: {sustain_window: 12}\n", {},
                                           "s.yaml: outcomes.sustain_window: 12 months is longer than the run (6 months)"),
    "the default degree in a network too small for it": ("sites: {n: 5}\nnetwork: {type: random}\nstrategy: {seeding: {n: 1}}\n",
                                                         {}, "s.yaml: network.degree: a mean of 6 ties needs more sites"),
    "sites.groups beside a group column": ("sites: {file: t.csv, groups: {a: 0.5, b: 0.5}}\nnetwork: {type: none}\n"
                                           "strategy: {seeding: {n: 1}}\n", {"t.csv": "site,group\na,x\nb,y\n"},
                                           "s.yaml: sites.groups: has no effect: the site table"),
}


@pytest.mark.parametrize("name", list(WARNINGS))
def test_settings_with_no_effect_give_one_warning_line(name, tmp_path, capsys):
    text, files, expected = WARNINGS[name]
    (tmp_path / "s.yaml").write_text("months: 6\n" + text)
    for rel, body in files.items():
        (tmp_path / rel).write_text(body)
    assert main(["validate", str(tmp_path / "s.yaml")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(lines) == 1, err
    assert expected in lines[0].replace(str(tmp_path) + "/", ""), lines[0]


def test_a_repeated_undirected_tie_counts_once(tmp_path):
    from simulation import load_scenario, run

    (tmp_path / "e.csv").write_text("source,target\na,b\nb,a\nb,c\n")
    (tmp_path / "s.yaml").write_text("months: 2\nnetwork: {type: file, file: e.csv}\nstrategy: {seeding: {n: 1}}\n")
    with pytest.warns(UserWarning, match="repeated ties ignored"):
        model = run(load_scenario(tmp_path / "s.yaml"), seed=1).model
    own = model.block_slice(0)  # the run's own sites (its counterfactual arm follows them)
    assert model.W[0, 1] == 1 and model.W[1, 0] == 1 and model.W[own, own].sum() == 4


# ----------------------------------------------------------------- what is accepted (meaning)
def test_a_bare_number_is_a_constant_trait(tmp_path):
    from simulation import load_scenario, run

    (tmp_path / "s.yaml").write_text("months: 3\nsites: {n: 20, traits: {turnover: 0.25}}\n")
    sc = load_scenario(tmp_path / "s.yaml")
    assert sc.sites.traits.turnover.dist == "constant" and sc.sites.traits.turnover.value == 0.25
    assert (run(sc, seed=1).sites["turnover"] == 0.25).all()


def test_a_mapping_in_a_strategy_or_set_merges_into_the_section(tmp_path):
    from simulation import load_scenario

    (tmp_path / "s.yaml").write_text("strategy:\n  support: {capacity: 20, funding_months: 36, cost: 2.0}\n"
                                     "strategies:\n  more: {strategy.support: {capacity: 60}}\n")
    sc = load_scenario(tmp_path / "s.yaml", {"strategy": {"waves": {"every": 6}}})
    assert sc.strategy.support.funding_months == 36 and sc.strategy.waves.every == 6
    assert sc.strategy.waves.size == 50 and sc.strategy.seeding.n == 5  # the rest kept
    more = sc.with_overrides(sc.strategies["more"])
    s = more.strategy.support
    assert (s.capacity, s.funding_months, s.cost) == (60, 36, 2.0)
    # a distribution is one value: replaced whole, not mixed with the one before
    tr = sc.with_overrides({"sites.traits.turnover": {"dist": "uniform", "low": 0.1, "high": 0.2}}).sites.traits.turnover
    assert (tr.dist, tr.low, tr.high, tr.value) == ("uniform", 0.1, 0.2, None)


def test_set_mapping_on_the_command_line_merges(tmp_path):
    (tmp_path / "s.yaml").write_text(BASE)
    out = tmp_path / "o"
    assert main(["run", str(tmp_path / "s.yaml"), "--set", "strategy.support={capacity: 9}", "--set",
                 "strategy={seeding: {n: 3}}", "--out", str(out), "-q", "--no-plot"]) == 0
    sc = json.loads((out / "manifest.json").read_text())["scenario"]
    assert sc["strategy"]["support"]["capacity"] == 9 and sc["strategy"]["support"]["funding_months"] == 60
    assert sc["strategy"]["seeding"]["n"] == 3 and sc["sites"]["n"] == 40


def test_a_dataframe_of_observed_data_is_checked_like_a_file():
    import pandas as pd

    from simulation.calibration.data import as_observed
    from simulation.errors import InputError

    ok = as_observed(pd.DataFrame({"month": [0, 1, 2], "adopted": [1.0, None, 4.0]}))
    assert ok.table["adopted"].isna().tolist() == [False, True, False]
    with pytest.raises(InputError, match="negative"):
        as_observed(pd.DataFrame({"month": [0, 1], "adopted": [1, -2]}))


# ------------------------------------------------------------------- the scheduler goes away
def test_a_lost_scheduler_is_one_message_exit_1_and_resumable(tmp_path, capsys, monkeypatch):
    from simulation.experiments import core

    monkeypatch.setattr(core, "CONNECT_TIMEOUT", "3s")
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                              str(port), "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nworkers", "1", "--nthreads",
                               "1", "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    out = tmp_path / "o"
    args = ["ensemble", str(SCENARIOS / "demo.yaml"), "--months", "60", "--replicates", "40", "--chunk-size", "1",
            "--out", str(out), "-q", "--no-plot"]
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:  # the worker has joined
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        time.sleep(2)

        def kill():
            end = time.monotonic() + 120
            while time.monotonic() < end and len(list((out / "runs").glob("*.parquet")) if (out / "runs").exists() else []) < 2:
                time.sleep(0.02)
            os.killpg(sched.pid, signal.SIGKILL)

        t = threading.Thread(target=kill)
        t.start()
        code = main([*args, "--scheduler", addr])
        t.join()
    finally:
        for p in (sched, worker):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1, err
    assert len(errors) == 1 and "lost the Dask scheduler" in errors[0] and "run the same command again" in errors[0]
    assert "Traceback" not in err
    stored = len(list((out / "runs").glob("*.parquet")))
    assert 0 < stored < 40
    assert json.loads((out / "manifest.json").read_text())["sessions"][-1]["status"] == "failed"
    assert main([*args, "--executor", "serial"]) == 0  # resumed where it stopped
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert sessions[-1]["status"] == "complete" and sessions[-1]["runs_reused"] >= stored


def test_a_strategy_warns_only_about_what_it_sets(tmp_path, capsys):
    """Waves switched off by a strategy leave the scenario's wave size unused: that is the strategy's
    point, not a mistake, and neither loading nor running it warns."""
    text = BASE.replace("strategy: {seeding: {n: 2}}", "strategy: {seeding: {n: 2}, waves: {every: 6, size: 10}}")
    (tmp_path / "s.yaml").write_text(text + "strategies:\n  wide: {strategy.waves.every: 0}\n"
                                            "  odd: {strategy.seeding.group: rural}\n")
    assert main(["compare", str(tmp_path / "s.yaml"), "--replicates", "2", "--executor", "serial", "--out",
                 str(tmp_path / "o"), "-q", "--no-plot"]) == 0
    warnings_ = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warnings_) == 1 and "strategies.odd: strategy.seeding.group: has no effect" in warnings_[0], warnings_


def test_a_field_is_split_into_keys_and_list_positions_and_found_at_its_nearest_enclosing_key():
    """safe_io.split_field and Marks.find: where a message about a field points in the YAML file."""
    from simulation.safe_io import Marks, split_field

    assert split_field("a.b[2].c") == ("a", "b", 2, "c")
    assert split_field("sensitivity.parameters[2][10].path") == ("sensitivity", "parameters", 2, 10, "path")
    assert split_field("a.b[x].c") == ("a", "b[x]", "c")  # not a list position: a key as written
    assert split_field("[3]") == (3,)
    marks = Marks({("a",): (1, 1), ("a", "b"): (2, 3), ("a", "b", 2): (5, 5)})
    assert marks.find("a.b[2]") == (5, 5)
    assert marks.find("a.b.c") == (2, 3)  # the nearest enclosing key the document has
    assert marks.find("a.b[7].c.d") == (2, 3)
    assert marks.find("z.y") is None


def test_a_foreign_entries_message_names_the_kind_when_known(tmp_path):
    from simulation.safe_io import foreign_message

    out = tmp_path / "x"
    out.mkdir()
    for found, what in (("run", "a spreadsim 'run' output"), (None, "a spreadsim output")):
        assert foreign_message(out, found, ["a", "b", "c", "d"]).startswith(
            f"holds {what} manifest but no record of the files spreadsim wrote (no .spreadsim-record.json: ")
    assert "(a, b, c and 1 more)" in foreign_message(out, None, ["a", "b", "c", "d"])
    assert "(a, b, c); nothing was deleted" in foreign_message(out, None, ["a", "b", "c"])


def test_yaml_positions_of_list_items_and_errors_found_while_building_values():
    from simulation.errors import InputError
    from simulation.safe_io import decode_text, load_yaml, read_capped

    _, marks = load_yaml("a:\n  - 1\n  - 2\n", "s.yaml")
    assert dict(marks) == {("a",): (1, 1), ("a", 0): (2, 5), ("a", 1): (3, 5)}
    _, marks = load_yaml("a:\n  1: x\n  b: y\n", "s.yaml")  # a key that is not text is found by its text
    assert dict(marks) == {("a",): (1, 1), ("a", "1"): (2, 3), ("a", "b"): (3, 3)}
    with pytest.raises(InputError) as err:
        load_yaml("a: !!python/name:os.system\n", "s.yaml")
    assert str(err.value) == ("s.yaml: malformed YAML: could not determine a constructor for the tag "
                              "'tag:yaml.org,2002:python/name:os.system' (line 1, column 4)")
    with pytest.raises(InputError) as err:
        decode_text(b"a: 1\nb: \xff\n", "s.yaml")
    assert str(err.value) == "s.yaml: is not UTF-8 text (line 2)" and err.value.problems[0].field == ""
    with pytest.raises(InputError) as err:
        read_capped("missing.yaml", 100)
    assert str(err.value) == "missing.yaml: file not found" and err.value.problems[0].field == ""


def test_malformed_yaml_is_one_message_with_the_parsers_reason_and_position(tmp_path, monkeypatch):
    import builtins

    from simulation.errors import InputError
    from simulation.safe_io import load_yaml, read_capped

    for text, message in (("a: [1, 2\n", "s.yaml: malformed YAML: expected ',' or ']', but got '<stream end>' "
                                        "(line 2, column 1)"),
                          ("a: b: c\n", "s.yaml: malformed YAML: mapping values are not allowed here (line 1, column 5)")):
        with pytest.raises(InputError) as err:
            load_yaml(text, "s.yaml")
        assert str(err.value) == message
    f = tmp_path / "s.yaml"
    f.write_text("a: 1\n")
    real = builtins.open

    def fail_open(path, *a, **k):
        if str(path) == str(f):
            raise PermissionError(13, "Permission denied")
        return real(path, *a, **k)

    monkeypatch.setattr(builtins, "open", fail_open)
    with pytest.raises(InputError) as err:
        read_capped(f, 100)
    assert str(err.value) == f"{f}: cannot read: Permission denied" and err.value.problems[0].field == ""


def test_reading_limits_and_their_messages(tmp_path, monkeypatch):
    """safe_io.read_capped, decode_text and load_yaml: a folder, a file larger than the cap or growing
    past it while read, binary data (a NUL in the first 8 KiB), a value that cannot be built, and
    nesting past the limit once sibling lists have closed."""
    from simulation import limits
    from simulation.errors import InputError
    from simulation.safe_io import decode_text, load_yaml, read_capped

    def message(call):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.problems[0].field == ""
        return str(err.value)

    assert message(lambda: read_capped(tmp_path, 100)) == f"{tmp_path}: is a folder, not a file"
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"a" * 100)
    assert read_capped(exact, 100) == b"a" * 100  # at most the limit: the limit itself is accepted
    with pytest.raises(InputError) as err:
        read_capped("/dev/null", 100, "network file", "network.file")
    assert str(err.value) == ("/dev/null: network.file: is not a regular file (a device, pipe or socket); "
                              "give the network file as a file")
    f = tmp_path / "big.yaml"
    f.write_bytes(b"a" * 200)
    assert message(lambda: read_capped(f, 100)) == f"{f}: is 200 B; a file may be at most 100 B"
    real_stat = os.stat

    def small_stat(path, *a, **k):  # a file that reports less than it holds (/proc) or grows while read
        st = real_stat(path, *a, **k)
        return os.stat_result((st.st_mode, *st[1:6], 10, *st[7:])) if str(path) == str(f) else st

    monkeypatch.setattr(os, "stat", small_stat)
    assert message(lambda: read_capped(f, 100, "scenario file")) == (
        f"{f}: holds more than 100 B; a scenario file may be at most that")
    monkeypatch.undo()
    assert message(lambda: decode_text(b"a: 1\x00", "s.yaml")) == "s.yaml: is a binary file, not text"
    assert decode_text(b"a" * 8192 + b"\x00", "s.yaml").startswith("aaa")  # only the first 8 KiB are looked at
    assert message(lambda: load_yaml("a: 2020-13-45\n", "s.yaml")) == (
        "s.yaml: malformed YAML: a value cannot be read (ValueError)")
    deep = "[" * limits.MAX_YAML_DEPTH + "]" * limits.MAX_YAML_DEPTH
    load_yaml(deep, "s.yaml")
    assert "nests lists and mappings more than" in message(lambda: load_yaml(f"[[[[]]], {deep}]", "s.yaml"))


def test_outputs_of_calibrations_and_forecasts_of_earlier_versions_are_recognised(tmp_path):
    import json as _json

    from simulation.safe_io import output_kind

    def folder(name, file, man):
        out = tmp_path / name
        out.mkdir()
        (out / file).write_text(_json.dumps(man))
        return out

    assert output_kind(folder("cal", "calibration.json", {"kind": "spreadsim calibration"})) == "calibration"
    assert output_kind(folder("cal2", "calibration.json", {"kind": "something else"})) is None
    assert output_kind(folder("fc", "forecast.json", {"switch_at": 12, "horizon": 60})) == "forecast"
    assert output_kind(folder("fc2", "forecast.json", {"switch_at": 12})) is None


def test_check_numbers_names_the_file_and_the_field_of_each_number_out_of_range():
    from simulation import limits
    from simulation.errors import Problem
    from simulation.safe_io import check_numbers

    got = check_numbers({"a": {"b": [1, 10 ** 30]}, "c": float("inf"), "d": True}, "s.yaml")
    assert got == [Problem("s.yaml", "a.b[1]", f"is too large a number (more than {limits.MAX_SEED:,})"),
                   Problem("s.yaml", "c", "must be a finite number (got inf)")]


def test_yaml_limits_hold_at_their_boundaries_and_name_the_position(monkeypatch):
    """load_yaml's limits (simulation.limits, read when a file is parsed): at most MAX_YAML_NODES values,
    numbers of at most MAX_DIGITS digits (quoted text and words are not numbers), one document; each
    refusal names the file, the line and the column of the value past the limit."""
    from simulation import limits
    from simulation.errors import InputError
    from simulation.safe_io import load_yaml

    def message(text):
        with pytest.raises(InputError) as err:
            load_yaml(text, "s.yaml")
        return str(err.value)

    monkeypatch.setattr(limits, "MAX_YAML_NODES", 7)
    monkeypatch.setattr(limits, "MAX_DIGITS", 5)
    assert load_yaml("[1, 2, 3, 4, 5, 6]", "s.yaml")[0] == [1, 2, 3, 4, 5, 6]  # the list and its items: 7 values
    assert message("[1, 2, 3, 4, 5, 6, 7]") == "s.yaml: holds more than 7 values (line 1, column 20)"
    assert load_yaml('{a: 12345, b: "1234567", c: abcdefg}', "s.yaml")[0] == {"a": 12345, "b": "1234567",
                                                                              "c": "abcdefg"}  # 7 values: keys count
    assert message("a: 1\nb: 123456\n") == "s.yaml: a number with more than 5 digits (line 2, column 4)"
    for number in ("-1_2.5e+10", "1.2345E+10"):
        assert message(f"a: 1\nb: {number}\n") == "s.yaml: a number with more than 5 digits (line 2, column 4)"
    assert message("months: 12\n---\nmonths: 24\n") == (
        "s.yaml: holds more than one YAML document (a second '---'); keep one (line 2, column 1)")
    monkeypatch.undo()
    # nesting counts the lists open at each point: a closed sibling no longer counts, its parents still do
    assert load_yaml("[[[], " + "[" * 38 + "]" * 38 + "]]", "s.yaml")[0][0][0] == []
    assert message("[[[], " + "[" * 39 + "]" * 39 + "]]") == (
        f"s.yaml: nests lists and mappings more than {limits.MAX_YAML_DEPTH} levels deep (line 1, column 45)")


def test_whole_numbers_up_to_63_bits_pass_and_a_larger_one_is_named_at_its_position():
    from simulation import limits
    from simulation.safe_io import check_numbers, load_yaml

    data, marks = load_yaml(f"a:\n  b: {limits.MAX_SEED}\n  c: {-limits.MAX_SEED - 1}\n", "s.yaml")
    assert [str(p) for p in check_numbers(data, "s.yaml", marks=marks)] == [
        f"s.yaml: a.c: is too large a number (more than {limits.MAX_SEED:,}) (line 3, column 3)"]


def test_a_scenario_file_that_is_a_folder_or_binary_is_named_as_a_scenario_file(tmp_path):
    from simulation.errors import InputError
    from simulation.safe_io import read_yaml_file

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"a: 1\x00")
    for path, message in ((tmp_path, f"{tmp_path}: is a folder, not a scenario file"),
                          (binary, f"{binary}: is a binary file, not text")):
        with pytest.raises(InputError) as err:
            read_yaml_file(path)
        assert str(err.value) == message


def test_a_fields_position_is_its_own_or_its_nearest_enclosing_keys():
    from simulation.safe_io import load_yaml

    _, marks = load_yaml("a:\n  1: x\n  b:\n    c: 1\n", "s.yaml")
    assert marks.find("a.1") == (2, 3) and marks.find("a.b.c") == (4, 5)
    assert marks.find("a.b.d.e") == (3, 3) and marks.find("x.y") is None  # the nearest key the file has
