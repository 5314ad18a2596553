"""The implementation stages (NIRN, source 000; Fixsen et al. 2005), as small integers.

Not engaged -> exploration -> installation -> initial implementation -> full implementation, plus
declined (left before delivering) and discontinued (abandoned after use; NASSS "abandonment",
source 003). "Adopted" means initial or full implementation; "delivering" means installation to
full (installation is when a site starts putting the programme in place).
"""

STAGES = ("not_engaged", "exploration", "installation", "initial", "full", "declined", "discontinued")
NOT_ENGAGED, EXPLORATION, INSTALLATION, INITIAL, FULL, DECLINED, DISCONTINUED = range(7)

#: how much of an intervention's effect depends on the site's competence, by complexity (NASSS,
#: source 003: a simple intervention needs less tacit know-how); read by transitions and outcomes
SKILL_DEMAND = {"simple": 0.5, "complicated": 1.0, "complex": 1.0}
