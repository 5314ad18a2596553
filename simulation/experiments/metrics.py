"""The outcomes of the printed comparison table (shared by the result, its report and its figures,
which the result imports: kept here so that none of them imports the other back)."""

#: outcomes in the printed table, with their labels and whether they are shares
TABLE_METRICS: dict[str, tuple[str, bool]] = {
    "adopted_share": ("adopted share", True),
    "reach": ("reach (people served)", False),
    "mean_fidelity": ("mean fidelity", False),
    "attributable_benefit": ("benefit attributable to the programme", False),
    "attributable_benefit_years": ("attributable benefit over the run (person-years)", False),
    "sustained_delivering_24": ("delivering 2 years after funding ended", True),
    "sustained_full_24": ("in full 2 years after funding ended", True),
    "sustained_startup": ("starters delivering 2 years on", True),
    "abandonment": ("abandonment", True),
    "equity_gap": ("equity gap in reach", True),
    "total_cost": ("total cost (programme + local)", False),
    "cost_per_sustained_site": ("support per sustained site", False),
}
