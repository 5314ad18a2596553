"""The model's processes, one module each, in the order a month runs them (docs/ODD.md, section 3).

=================  =====================================================================  ==========
module             what it does each month                                                ODD
=================  =====================================================================  ==========
:mod:`.support`    the programme: funding, seeding order, waves, support slots (central,   7.4, 7.8
                   reserved per group, trainers), invitations, collaboratives, costs
:mod:`.workforce`  staff turnover, champions, competence (learning, coaching), site        7.5
                   capacity (built by support, decaying without), change fatigue
:mod:`.delivery`   fidelity (drift to an equilibrium, coaching, assurance rounds),         7.6
                   adaptation and effective fit
(neighbours)       one sparse product: neighbours' adoption and adaptation (model.py)     3
:mod:`.transitions` the logics' pressures combined, with the modifiers of sustainment      7.1-7.3
                   (routinisation, champions, visible benefit); stage moves
:mod:`.outcomes`   benefit to people served, secular trend, counterfactual arm, reach,     7.10
                   sustainment cohorts, the month's outputs
=================  =====================================================================  ==========

Each module owns its section of the scenario schema (a :class:`~simulation.schema.Section`), the
state it adds to the model (``init``), its docstring with sources and its ODD section. Functions
take the model ``m`` and read and write its numpy arrays; every rule is vectorised over all sites of
all blocks (replicates side by side), and nothing in one block depends on another block, so a batch
is bit-identical to separate runs.
"""
