"""The spread-and-scale-up model: sites on a network moving through implementation stages.

State lives in numpy arrays owned by :class:`SpreadModel`; every rule is a vectorised operation
over all sites, written in one module per process (:mod:`simulation.processes`), and neighbour
influence is one sparse matrix product per month. The Mesa agents (:class:`Site`) are the sites'
faces for users, inspection and visualisation: their attributes read the model's arrays.

One month (:meth:`SpreadModel.step`) runs the processes in this order (docs/ODD.md, section 3):

1. ``support.allocate``      the programme: funding, collaboratives, assurance rounds, trainers,
                             support slots and invitations, costs;
2. ``workforce.step``        turnover and champions, learning and coaching, site capacity, fatigue;
3. ``delivery.step``         adaptation and effective fit, fidelity drift to its equilibrium,
                             coaching, assurance repair;
4. ``neighbours``            one sparse product: neighbours' adoption and adaptation;
5. ``transitions.pressures`` each logic's pressures, the site's own and shocks, combined, with
                             sustainment's modifiers (routinisation, visible benefit, champions);
6. ``transitions.apply``     every site moves at most one stage (synchronous);
7. ``outcomes.collect``      effect, benefit, counterfactual, reach, costs, cohorts, the outputs.

A model holds *blocks* of sites side by side: one per replicate seed (a batch) and, when
``outcomes.counterfactual`` is on, one more per seed for the no-programme arm on the same random
numbers. Nothing in a block depends on another block, so block ``b`` evolves exactly as a run with
its seed alone.
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sp

from . import blocks
from . import kernels
from .network import Built, build
from .processes import delivery, outcomes, support, transitions, workforce
from .processes.outcomes import SERIES, History
from .processes.stages import (DECLINED, DISCONTINUED, EXPLORATION, FULL, INITIAL, INSTALLATION,  # noqa: F401
                               NOT_ENGAGED, STAGES)
from .rng import Streams
from .scenario import Scenario
from .traits import site_traits

TRAITS = ("capacity", "leadership", "champions", "turnover", "fit", "size", "threshold", "prestige")

#: Mesa, imported with the first :class:`SpreadModel` or :class:`Site` asked for (see ``__getattr__``
#: at the end): batches of runs use :class:`SpreadEngine` and never load it (0.3-0.6 s of start-up)
mesa = None


class _Site:
    """One site (school, practice, ICU...): a view onto its row of the model's arrays (a Mesa agent).

    Attributes:
        index: the site's row in the model's arrays.
        site: the site's id as given in the network or site file (0..n-1 for generated networks).
    """

    def __init__(self, model: "SpreadModel", index: int, site):
        super().__init__(model)
        self.index = index
        self.site = site

    @property
    def stage(self) -> str:
        return STAGES[self.model.stage[self.index]]

    @property
    def group(self):
        return self.model.group[self.index]

    @property
    def adopted(self) -> bool:
        return bool(self.model.stage[self.index] in (INITIAL, FULL))

    @property
    def neighbours(self) -> list["Site"]:
        W = self.model.W
        cols = W.indices[W.indptr[self.index]:W.indptr[self.index + 1]]
        return [self.model.sites[j] for j in cols]

    def __getattr__(self, name):
        # traits and state arrays read as attributes: site.capacity, site.fidelity, ...
        model = self.__dict__.get("model")
        if model is not None and name in SpreadEngine.SITE_ARRAYS:
            return getattr(model, name)[self.index].item()
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Site({self.site!r}, stage={self.stage})"


class SpreadEngine:
    """Spread and scale-up of an innovation across sites on a network: the model's arrays and its
    monthly step, without Mesa. :class:`SpreadModel` is this engine as a Mesa model, with Mesa
    agents for the sites; both run the same code on the same random numbers.

    Args:
        scenario: a validated :class:`~simulation.scenario.Scenario`.
        seed: the run's seed; decides the run completely (named streams, see :mod:`simulation.rng`).
            A list of seeds runs one *block* of sites per seed, side by side in the same arrays
            (a batch of replicates): block ``b`` evolves exactly as a run with ``seed[b]`` alone.
        agents: (:class:`SpreadModel` only) give the model one Mesa :class:`Site` agent per site,
            made when first asked for (``model.sites``, ``model.agents``): a run never reads them, so
            they cost nothing unless used. False: none (bare array runs); batches never have agents.
        built: sites and ties made beforehand (to share a network across runs); built from the
            scenario with each block's ``network`` stream when not given.
        history: keep every site's state every month (``result.site_history``).
        scenarios: one scenario per seed, for a batch of runs of different scenarios that differ
            only in the parameters of :data:`simulation.blocks.BATCHABLE` (block ``b`` then
            evolves exactly as a run of ``scenarios[b]`` with ``seed[b]`` alone); ``scenario`` is
            then ``scenarios[0]``'s structure. Processes read a parameter that differs between
            blocks as a per-site array (:mod:`simulation.blocks`).

    Raises:
        InputError: for inputs that only show as wrong once the sites are known (seeding more sites
            than exist, listed seed ids that are not sites, an unknown seeding group).
    """

    SITE_ARRAYS = TRAITS + ("capacity0", "fidelity", "competence", "adaptation", "fatigue", "months_in_stage",
                            "supported", "trainer", "adopted_month", "full_month", "fit_eff", "generation",
                            "effect", "seen", "expect", "relative", "routine", "light")

    def __init__(self, scenario: Scenario, seed: int | list[int] | None = None, *,
                 built: Built | None = None, history: bool = False, scenarios: list[Scenario] | None = None):
        seeds = [scenario.seed] if seed is None else ([int(s) for s in seed] if isinstance(seed, (list, tuple, np.ndarray)) else [int(seed)])
        if not seeds:
            raise ValueError("at least one seed is needed")
        sc = scenario
        values: dict = {}
        if scenarios is not None:
            if len(scenarios) != len(seeds):
                raise ValueError(f"one scenario per seed is needed ({len(scenarios)} scenarios, {len(seeds)} seeds)")
            if any(s_ is not scenarios[0] for s_ in scenarios):
                blocks.check(scenarios)
                values = blocks.varying(scenarios)
            else:
                scenarios = None
        self.seeds = seeds
        self.seed = seeds[0]
        self.replicates = len(seeds)
        self.counterfactual = bool(sc.outcomes.counterfactual)
        block_seeds = seeds + (seeds if self.counterfactual else [])
        self.block_seeds = block_seeds
        self._block_streams = [Streams(s) for s in block_seeds]
        self.streams = self._block_streams[0]
        self._framework_init()
        self.scenario_obj = sc
        self.months = sc.months
        self.month = 0
        if built is None:  # one network per distinct seed (a batch of several scenarios repeats seeds)
            made: dict[int, Built] = {}
            builts = [made[s_] if s_ in made else made.setdefault(s_, build(sc, st["network"]))
                      for s_, st in zip(seeds, self._block_streams)]
        else:
            builts = [built] * self.replicates
        self.ids = builts[0].ids
        self.R = R = len(block_seeds)  # blocks: replicates, then their counterfactual arms
        self.N = N = len(self.ids)
        self.n = R * N
        if values:  # the parameters that differ between blocks, as per-site arrays
            sc = self.scenario_obj = blocks.view(sc, values, N, np.arange(R) % self.replicates)
        self.block = np.repeat(np.arange(R), N)
        #: the programme runs in the first ``replicates`` blocks; the counterfactual arms have none
        self.programme_b = np.arange(R) < self.replicates
        self.prog_site = np.repeat(self.programme_b, N)
        if self.counterfactual:
            builts = builts + builts
        self._set_network(builts[0].W if R == 1 else sp.block_diag([b.W for b in builts], format="csr"))
        per = [site_traits(scenarios[k] if scenarios is not None else sc, b, st)
               for k, (b, st) in enumerate(zip(builts[: self.replicates], self._block_streams))]
        if self.counterfactual:
            per = per + per  # the same seed draws the same traits: reuse them
        for name in TRAITS:
            setattr(self, name, np.concatenate([t[name] for t, _ in per]))
        self.capacity0 = self.capacity  # the trait: the site's own capacity; ``capacity`` becomes state
        self.group = np.concatenate([g for _, g in per])
        self.group_labels, self.group_index = np.unique(self.group.astype(str), return_inverse=True)
        self.champions = self.champions.astype(np.int32)
        self._mech_on = sc.logics.mechanical.enabled
        self._eco_on = sc.logics.ecological.enabled
        self._soc_on = sc.logics.social.enabled
        self._kern = kernels.use(self.n)  # the compiled monthly kernels (simulation.kernels), else numpy
        self.nb_share = np.zeros(self.n)
        self.nb_prestige = np.zeros(self.n)
        self.nb_adaptation = np.zeros(self.n)
        self.adopted_share_b = np.zeros(R)
        self.share_site = np.zeros(self.n)
        self._gens = {name: [st[name] for st in self._block_streams] for name in ("turnover", "transitions", "shocks")}
        self.history = None
        # state, process by process (each module owns what it adds)
        transitions.init(self, sc)
        workforce.init(self, sc)
        delivery.init(self, sc)
        support.init(self, sc)
        self._using = self.using
        self.adopted_share_b = self._per_block(self.adopted) / N
        outcomes.init(self, sc)
        if history:
            from . import limits

            limits.check_memory(N, int(self.W.nnz) // R, self.months, self.replicates, counterfactual=self.counterfactual,
                                history=True, source=sc.source, field="--site-history")
            self.history = History(self)
        outcomes.collect(self, sc)

    def _framework_init(self) -> None:
        """Set up the framework the model runs in (:class:`SpreadModel`: Mesa), before any state."""
        self.running = True

    # ----------------------------------------------------------------------------- block helpers
    def _per_block(self, mask: np.ndarray) -> np.ndarray:
        """Number of true entries of a site mask in each block."""
        if self.R == 1:  # count_nonzero along an axis is ten times slower than over a flat array
            return np.array([np.count_nonzero(mask)])
        N = self.N
        if N >= 1000:  # large blocks: one flat count per block (40x faster than an axis sum at 100,000)
            return np.array([np.count_nonzero(mask[b * N:(b + 1) * N]) for b in range(self.R)])
        return mask.reshape(self.R, N).sum(axis=1)

    def _top_k(self, mask: np.ndarray, k) -> np.ndarray:
        """Indices of at most ``k`` sites per block (``k`` a number or one per block) in ``mask``,
        those with the best (lowest) priority rank (in no particular order)."""
        N = self.N
        if self.R == 1 or N >= 1000:  # large blocks: the k best-ranked candidates of each block
            ks = np.broadcast_to(np.asarray(k), (self.R,))
            parts = []
            for b in range(self.R):
                kb = int(ks[b])
                if kb <= 0:
                    continue
                idx = np.flatnonzero(mask[b * N:(b + 1) * N]) if self.R > 1 else np.flatnonzero(mask)
                if len(idx) > kb:
                    idx = idx[np.argpartition(self.rank[b * N + idx], kb - 1)[:kb]]
                parts.append(idx + b * N if self.R > 1 else idx)
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)
        order = self._order
        m = mask[order].reshape(self.R, N)
        chosen = m & (np.cumsum(m, axis=1) <= np.reshape(k, (-1, 1)))
        return order[chosen.ravel()]

    def _draw(self, name: str, rows: int = 0) -> np.ndarray:
        """Uniform draws for every site from each block's own stream ``name`` (``rows`` > 0: that many rows)."""
        gens = self._gens[name]
        shape = (rows, self.N) if rows else self.N
        if self.R == 1:
            return gens[0].random(shape)
        if not rows:  # straight into each block's slice (no temporary per block)
            out = np.empty(self.n)
            for b, g in enumerate(gens):
                g.random(out=out[b * self.N:(b + 1) * self.N])
            return out
        out = np.empty((rows, self.n))
        for b, g in enumerate(gens):
            out[:, b * self.N:(b + 1) * self.N] = g.random(shape)
        return out

    def _set_network(self, W: sp.csr_array) -> None:
        W = sp.csr_array(W, dtype=float)
        W.sum_duplicates()  # canonical: sorted columns, so each row sums in the same order in any batch
        self.W = W
        self.degree = np.asarray(self.W.sum(axis=1)).ravel()
        self.has_ties = self.degree > 0
        self._inv_degree = np.divide(1.0, self.degree, out=np.zeros(self.n), where=self.has_ties)
        self._inv_prestige_degree = None
        self._nb_prestige_sum = None
        # transpose for sending changes along ties (W is symmetric unless the network is directed)
        self._WT = self.W if (self.W != self.W.T).nnz == 0 else sp.csr_array(self.W.T)
        self._min_weight = float(self.W.data.min()) if self.W.nnz else 1.0
        # incremental neighbour counts are exact (whatever the order of updates) for whole-number weights
        self._exact_weights = bool(np.all(self.W.data == np.round(self.W.data)))
        self._prev_adopted = None

    # ---------------------------------------------------------------------------------- properties
    @property
    def using(self) -> np.ndarray:
        """Sites delivering the innovation in some form (installation, initial or full)."""
        return (self.stage >= INSTALLATION) & (self.stage <= FULL)

    def _using_now(self) -> np.ndarray:
        """``using`` for the current month, computed once per month (by the workforce phase)."""
        self._using = self.using
        return self._using

    @property
    def adopted(self) -> np.ndarray:
        """Sites that have adopted: in initial or full implementation."""
        return (self.stage == INITIAL) | (self.stage == FULL)

    @property
    def adopted_share(self) -> float:
        """Share of sites adopted (the first block's, in a batch)."""
        return float(self.adopted_share_b[0])

    @property
    def support_used(self) -> float:
        """Support units used so far by the programme (the first block's, in a batch)."""
        return float(self.support_used_b[0])

    @property
    def counts(self) -> np.ndarray:
        """Sites in each stage per month, of the first block."""
        return self.counts_b[0]

    @property
    def series(self) -> dict[str, np.ndarray]:
        """The monthly outputs of the first block."""
        return {k: v[0] for k, v in self.series_b.items()}

    # ----------------------------------------------------------------------------------- the step
    def step(self) -> None:
        """One month: support, workforce, delivery, neighbours, pressures, transitions, outcomes."""
        if self.month >= self.months:
            self.running = False
            return
        self.month += 1
        sc = self.scenario_obj
        support.allocate(self, sc)
        if self._kern:  # workforce and delivery fused (simulation.kernels); collaborative costs read neither
            workforce.fused_step(self, sc)
            support.collaborative_costs(self, sc)
        else:
            workforce.step(self, sc)
            support.collaborative_costs(self, sc)
            delivery.step(self, sc)
        self._neighbours(sc)
        transitions.month(self, sc)  # pressures, then the moves
        outcomes.collect(self, sc)
        if self.month >= self.months:
            self.running = False

    def run_model(self) -> "SpreadEngine":
        """Run to the scenario's horizon; returns the model so calls chain."""
        while self.month < self.months:
            self.step()
        return self

    def switch(self, scenario: Scenario) -> None:
        """Continue the run under another scenario from the next month (a strategy switched on now).

        The sites, network and state are kept; what the processes derive from the scenario (the
        programme's order and waves, fatigue targets, stage minimums, the month funding ends) is
        derived again from ``scenario``, and every later month reads it.
        """
        self.scenario_obj = scenario
        self._mech_on = scenario.logics.mechanical.enabled
        self._eco_on = scenario.logics.ecological.enabled
        self._soc_on = scenario.logics.social.enabled
        self.counterfactual = bool(self.counterfactual and scenario.outcomes.counterfactual)
        for process in (transitions, workforce, support):
            process.configure(self, scenario)
        if scenario.strategy.support.reserve != getattr(self, "_pools_reserve", {}):
            self._pools = None  # the pools are made again, from the sites in the pipeline
        if isinstance(self.sustain, np.ndarray):
            raise ValueError("switch continues a single run: this batch's blocks end their funding in different months")
        plan = outcomes.sustain_plan(scenario)
        if plan != self.sustain and self.sustain_cohort is None:
            # funding now ends at the new strategy's month (if it has passed, it ends now)
            self.sustain = None if plan is None else max(plan, self.month)

    # --- phase 4
    def _neighbours(self, sc: Scenario) -> None:
        """Neighbours' adoption (plain and prestige-weighted) and adaptation.

        With whole-number tie weights, ``W @ adopted`` is kept up to date incrementally: only the
        sites whose adoption changed this month send their change along their ties (O(changes x
        degree) instead of O(ties)); the sums are exact, so the result does not depend on the path.
        The prestige-weighted sums are updated the same way (rounding differs from a full product
        by a few units in the last place; they are taken in full every 12 months), and a site's
        sums depend only on its own block, so batches stay bit-identical. Adaptation changes every
        month, so its weighted sums are taken in full.
        """
        if self._kern:
            return self._neighbours_kernel(sc)
        adopted = self.adopted
        self.adopted_share_b = self._per_block(adopted) / self.N
        self.share_site = np.repeat(self.adopted_share_b, self.N) if self.R > 1 else np.full(1, self.adopted_share_b[0])
        if self.W.nnz == 0:
            return
        want_prestige = self._soc_on and sc.logics.social.rule == "influence"
        want_adapt = self._eco_on and sc.strategy.adaptation != "strict"
        prev = self._prev_adopted
        J = None if (prev is None or not self._exact_weights) else np.flatnonzero(adopted != prev)
        if J is not None and len(J):
            WT = self._WT
            start, stop = WT.indptr[J], WT.indptr[J + 1]
            lengths = stop - start
            pos = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
            rows = WT.indices[pos]
            contrib = WT.data[pos] * np.repeat(np.where(adopted[J], 1.0, -1.0), lengths)
        if J is None or len(J) > self.n // 50:
            self._nb_count = self.W @ adopted.astype(np.float64)
        elif len(J):
            self._nb_count += np.bincount(rows, weights=contrib, minlength=self.n)
        self._prev_adopted = adopted
        self.nb_share = self._nb_count * self._inv_degree
        if want_prestige:
            if self._inv_prestige_degree is None:
                pd_ = self.W @ self.prestige
                self._inv_prestige_degree = np.divide(1.0, pd_, out=np.zeros(self.n), where=pd_ > 0)
            # prestige-weighted adopted neighbours: sent along ties by the sites whose adoption
            # changed, and taken in full every 12 months so that rounding cannot build up. Each
            # site's sum depends only on its own block's changes, in the same order in any batch.
            if J is None or self._nb_prestige_sum is None or self.month % 12 == 0:
                self._nb_prestige_sum = self.W @ (adopted * self.prestige)
            elif len(J):
                self._nb_prestige_sum += np.bincount(rows, weights=contrib * np.repeat(self.prestige[J], lengths),
                                                     minlength=self.n)
            self.nb_prestige = self._nb_prestige_sum * self._inv_prestige_degree
        if want_adapt:
            total = self.W @ (adopted * self.adaptation)
            self.nb_adaptation = np.divide(total, self._nb_count, out=np.zeros(self.n), where=self._nb_count > 0.5 * self._min_weight)

    def _neighbours_kernel(self, sc: Scenario) -> None:
        """:meth:`_neighbours` with the compiled kernels (:mod:`simulation.kernels`): the same sums, in
        the same order, in fewer passes (adoption, its changes and counts in one; shares and the
        adaptation product in one)."""
        n = self.n
        prev = self._prev_adopted
        adopted = np.empty(n, bool)
        counts = np.empty(self.R, np.int64)
        track = prev is not None and self._exact_weights
        J = np.empty(n if track else 0, np.int64)
        k = kernels.adopted_pass(self.stage, prev if track else adopted, track, self.N, counts, adopted, J)
        self.adopted_share_b = counts / self.N
        self.share_site = np.repeat(self.adopted_share_b, self.N) if self.R > 1 else np.full(1, self.adopted_share_b[0])
        if self.W.nnz == 0:
            return
        J = J[:k] if track else None
        W, WT = self.W, self._WT
        if getattr(self, "_unit_w", None) is None or self._unit_w[0] is not W:
            self._unit_w = (W, bool((W.data == 1.0).all()))  # every tie weighs 1: weights not read
        unit = self._unit_w[1]
        want_prestige = self._soc_on and sc.logics.social.rule == "influence"
        want_adapt = self._eco_on and sc.strategy.adaptation != "strict"
        if J is not None and len(J) and (len(J) <= n // 50 or want_prestige):
            if getattr(self, "_scratch", None) is None or len(self._scratch[0]) != n:
                self._scratch = (np.zeros(n), np.zeros(n, bool))
            acc, touched = self._scratch
        if J is None or len(J) > n // 50:
            self._nb_count = np.empty(n)
            kernels.matvec(W.indptr, W.indices, W.data, unit, adopted.astype(np.float64), self._nb_count)
        elif len(J):
            kernels.send_changes(WT.indptr, WT.indices, WT.data, J, adopted, self.prestige, False, acc, touched, self._nb_count)
        self._prev_adopted = adopted
        if want_prestige:
            if self._inv_prestige_degree is None:
                pd_ = self.W @ self.prestige
                self._inv_prestige_degree = np.divide(1.0, pd_, out=np.zeros(n), where=pd_ > 0)
            if J is None or self._nb_prestige_sum is None or self.month % 12 == 0:
                self._nb_prestige_sum = np.empty(n)
                kernels.matvec(W.indptr, W.indices, W.data, unit, adopted * self.prestige, self._nb_prestige_sum)
            elif len(J):
                kernels.send_changes(WT.indptr, WT.indices, WT.data, J, adopted, self.prestige, True, acc, touched,
                                     self._nb_prestige_sum)
            self.nb_prestige = self._nb_prestige_sum * self._inv_prestige_degree
        self.nb_share = np.empty(n)
        if want_adapt:
            self.nb_adaptation = np.empty(n)
        kernels.neighbour_shares(W.indptr, W.indices, W.data, unit, adopted, self.adaptation, self._nb_count, self._inv_degree,
                                 self._min_weight, want_adapt, self.nb_share, self.nb_adaptation)

    # ------------------------------------------------------------------------------------ outputs
    def block_slice(self, block: int = 0) -> slice:
        """The rows of a block's sites in the model's arrays."""
        return slice(block * self.N, (block + 1) * self.N)

    def counterfactual_block(self, block: int = 0) -> int | None:
        """The block of the no-programme arm of replicate ``block`` (None when there is none)."""
        return block + self.replicates if self.counterfactual else None

    def reach_by_group(self, block: int = 0) -> dict[str, float]:
        """Share of each group's people reached (coverage-weighted), for equity."""
        return {g: v["reach_share"] for g, v in self.group_outcomes(block).items()}

    def group_outcomes(self, block: int = 0) -> dict[str, dict[str, float]]:
        """Per group of sites, at the current month: sites, adopted share, reach share, mean fidelity
        among adopters, benefit and attributable benefit per 1,000 people served."""
        sl = self.block_slice(block)
        idx = self.group_index[sl]
        k = len(self.group_labels)
        oc = self.scenario_obj.outcomes
        stage = self.stage[sl]
        size = self.size[sl]
        full = stage == FULL
        initial = stage == INITIAL
        adopted = full | initial
        coverage = full + oc.initial_reach * initial
        sites = np.bincount(idx, minlength=k)
        people = np.bincount(idx, weights=size, minlength=k)
        n_adopted = np.bincount(idx, weights=adopted, minlength=k)
        reached = np.bincount(idx, weights=size * coverage, minlength=k)
        fid = np.bincount(idx, weights=self.fidelity[sl] * adopted, minlength=k)
        cb = self.counterfactual_block(block)
        none = np.full(k, np.nan)
        if outcomes.overlaps(oc):  # the programme's practices overlap the trend's: per site (outcomes.burden)
            def benefit_of(b):
                left = outcomes.burden(oc, self.month, self.effect[self.block_slice(b)])
                return people - np.bincount(idx, weights=size * left, minlength=k)

            benefit = benefit_of(block)
            attributable = benefit - benefit_of(cb) if cb is not None else none
        else:
            tau = (1.0 - oc.trend) ** (self.month / 12.0)
            eff = np.bincount(idx, weights=size * self.effect[sl], minlength=k)
            eff_cf = (np.bincount(idx, weights=size * self.effect[self.block_slice(cb)], minlength=k)
                      if cb is not None else none)
            benefit = (1.0 - tau) * people + tau * eff
            attributable = tau * (eff - eff_cf)
        out = {}
        for j, g in enumerate(self.group_labels.tolist()):
            if sites[j] == 0:
                continue
            per = 1000.0 / people[j] if people[j] > 0 else np.nan
            out[g] = {
                "sites": int(sites[j]),
                "adopted_share": float(n_adopted[j] / sites[j]),
                "reach_share": float(reached[j] / people[j]) if people[j] > 0 else 0.0,
                "mean_fidelity": float(fid[j] / n_adopted[j]) if n_adopted[j] > 0 else float("nan"),
                "benefit_per_1000": float(benefit[j] * per),
                "attributable_per_1000": float(attributable[j] * per),
            }
        return out


# ---------------------------------------------------------------------------------- Mesa faces
class _MesaAgents:
    """The Mesa side of :class:`SpreadModel`: the sites' agents, made when first asked for."""

    def __init__(self, scenario: Scenario, seed: int | list[int] | None = None, *, agents: bool = True, **engine):
        super().__init__(scenario, seed, **engine)  # built, history...: SpreadEngine's arguments
        # the Mesa agents are made when first asked for (model.sites, model.agents...): a run never
        # reads them, and making 100,000 of them costs more than the rest of the setup
        self._agents_wanted = bool(agents) and self.replicates == 1
        self._sites = None

    def _framework_init(self) -> None:
        mesa.Model.__init__(self, rng=self.streams["mesa"])

    def _make_sites(self) -> list["Site"]:
        sites = self.__dict__.get("_sites", [])
        if sites is None:  # first asked for: one Site per site, registered with Mesa in site order
            self._sites = []  # (set first: registering them must not make them again)
            self._sites = sites = ([Site(self, i, s) for i, s in enumerate(self.ids.tolist())]
                                   if self._agents_wanted else [])
        return sites

    @property
    def sites(self) -> list["Site"]:
        """The Mesa agents, one :class:`Site` per site in the order of ``ids`` (made when first asked
        for; none in a batch or with ``agents=False``)."""
        return self._make_sites()

    @sites.setter
    def sites(self, value: list["Site"]) -> None:
        self._sites = value

    @property
    def agents(self):
        """Mesa's AgentSet of the model's agents (the sites' agents are made when first asked for)."""
        self._make_sites()
        return mesa.Model.agents.fget(self)

    @agents.setter
    def agents(self, value) -> None:
        mesa.Model.agents.fset(self, value)  # Mesa refuses it, with its own message

    @property
    def agents_by_type(self):
        self._make_sites()
        return mesa.Model.agents_by_type.fget(self)

    @property
    def agent_types(self) -> list[type]:
        self._make_sites()
        return mesa.Model.agent_types.fget(self)

    def register_agent(self, agent) -> None:
        # an agent of the user's: the sites' agents come first, as when they were made at once
        self._make_sites()
        super().register_agent(agent)

    def remove_all_agents(self) -> None:
        self._make_sites()
        super().remove_all_agents()


_MESA_LOCK = threading.Lock()


def _mesa_classes() -> None:
    """Define :class:`Site` and :class:`SpreadModel` (Mesa's Agent and Model), importing Mesa."""
    global mesa, Site, SpreadModel
    with _MESA_LOCK:
        if "SpreadModel" in globals():
            return
        import mesa as _mesa

        mesa = _mesa

        class Site(_Site, mesa.Agent):
            __doc__ = _Site.__doc__

        class SpreadModel(_MesaAgents, SpreadEngine, mesa.Model):
            """Spread and scale-up of an innovation across sites on a network, as a Mesa model: the
            arrays and monthly step of :class:`SpreadEngine` (same arguments, same results), with
            one Mesa :class:`Site` agent per site, made when first asked for.

            Args:
                agents: give the model its sites' agents (``model.sites``, ``model.agents``).
                    False: none (bare array runs); batches never have agents.
            """

        for cls in (Site, SpreadModel):  # pickled and documented as simulation.model.<name>
            cls.__qualname__ = cls.__name__


def __getattr__(name: str):
    if name in ("Site", "SpreadModel"):
        _mesa_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
