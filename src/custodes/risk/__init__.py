"""Re-identification risk, computed from the summary (never from files)."""

from custodes.risk._assess import Assessment, RiskBucket, assess_summary
from custodes.risk._closeness import TCloseness, smallest_close_class, t_closeness
from custodes.risk._combinations import ColumnImpact, QICombination, qi_combinations
from custodes.risk._diversity import LDiversity, l_diversity
from custodes.risk._mosaic import (
    MosaicRisk,
    ReleaseView,
    SensitiveMosaic,
    combination_ids,
    distinct_people,
    keyed_codes,
    links,
    load_view,
    mosaic_risk,
    save_view,
)
from custodes.risk._population import (
    REGIONS,
    PopulationRisk,
    population_size,
    population_uniqueness,
)
from custodes.risk._reidentification import (
    AttackerRisk,
    ClassStatistics,
    attacker_risk,
    class_statistics,
)
from custodes.risk._shown import fold_rare, smallest_shown

__all__ = [
    "REGIONS",
    "Assessment",
    "AttackerRisk",
    "ClassStatistics",
    "ColumnImpact",
    "LDiversity",
    "MosaicRisk",
    "PopulationRisk",
    "QICombination",
    "ReleaseView",
    "RiskBucket",
    "SensitiveMosaic",
    "TCloseness",
    "assess_summary",
    "attacker_risk",
    "class_statistics",
    "combination_ids",
    "distinct_people",
    "fold_rare",
    "keyed_codes",
    "l_diversity",
    "links",
    "load_view",
    "mosaic_risk",
    "population_size",
    "population_uniqueness",
    "qi_combinations",
    "save_view",
    "smallest_close_class",
    "smallest_shown",
    "t_closeness",
]
