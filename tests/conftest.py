"""The suite runs cheapest first, whatever order pytest collects the folders in (it sorts them by
name): the gate (lint, format, dry runs), the unit tests, the rerun tests (stand-in engines), then
the integration tests on the real engines."""

ORDER = ("gate", "unit", "reruns", "integration")


def _group(item) -> int:
    parts = item.path.parts
    folder = parts[parts.index("tests") + 1] if "tests" in parts else ""
    return ORDER.index(folder) if folder in ORDER else len(ORDER)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_group)  # stable: the order within a folder stays
