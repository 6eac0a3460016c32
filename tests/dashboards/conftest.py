from tests.dunning.conftest import cn_product, collector, other_collector, supervisor, team  # noqa: F401
