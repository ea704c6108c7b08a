"""What the project's tests change and check in a notebook, kept out of its cells.

A learner reads the tutorial's steps; the tests need a quick run and a verdict.
Both live in the notebook's metadata under "dlkit-tests" (papermill's convention
for the first, the result bundles every notebook already shows for the second):

    "dlkit-tests": {
      "smoke_parameters": "<Rust code run instead of the cell tagged `parameters`>",
      "floors": {
        "smoke": {"<model>": <value>, ...},   # the quick run
        "full":  {"<model>": <value>, ...}    # the notebook as committed
      }
    }

A floor is read in the unit and direction of the model's result bundle
(nbtool.RESULT_MIME): an accuracy (a fraction) must reach it, an error (in
percent) must not exceed it. A model with a floor that shows no result fails.
"""

from __future__ import annotations

import math

SETTINGS_KEY = "dlkit-tests"
PARAMETERS_TAG = "parameters"
RUN_KINDS = ("smoke", "full")


class ChecksError(Exception):
    """The notebook's test settings are malformed; the message says where."""


def settings(metadata: dict, label: str) -> dict | None:
    """The notebook's "dlkit-tests" metadata, validated; None if it has none."""
    found = metadata.get(SETTINGS_KEY)
    if found is None:
        return None
    if not isinstance(found, dict):
        raise ChecksError(f"{label}: metadata '{SETTINGS_KEY}' must be an object")
    unknown = set(found) - {"smoke_parameters", "floors"}
    if unknown:
        raise ChecksError(f"{label}: metadata '{SETTINGS_KEY}' has unknown keys {sorted(unknown)}")
    smoke = found.get("smoke_parameters")
    if smoke is not None and (not isinstance(smoke, str) or not smoke.strip()):
        raise ChecksError(f"{label}: '{SETTINGS_KEY}.smoke_parameters' must be Rust code")
    floors = found.get("floors", {})
    if not isinstance(floors, dict) or set(floors) - set(RUN_KINDS):
        raise ChecksError(f"{label}: '{SETTINGS_KEY}.floors' takes the keys {RUN_KINDS}")
    for kind, table in floors.items():
        if not isinstance(table, dict):
            raise ChecksError(f"{label}: '{SETTINGS_KEY}.floors.{kind}' must map models to numbers")
        for model, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ChecksError(
                    f"{label}: floor of '{model}' ({kind}) must be a number, found {value!r}")
    return found


def parameters_index(cells, label: str) -> int:
    """The index of the one cell tagged `parameters`."""
    tagged = [i for i, c in enumerate(cells)
              if c.get("cell_type") == "code"
              and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ChecksError(f"{label}: has smoke_parameters, so it needs exactly one code cell "
                          f"tagged '{PARAMETERS_TAG}', found {len(tagged)}")
    return tagged[0]


def apply_smoke_parameters(nb, label: str) -> bool:
    """Put the smoke parameters in place of the `parameters` cell; False if there are none."""
    found = settings(nb.metadata, label)
    if not found or "smoke_parameters" not in found:
        return False
    cell = nb.cells[parameters_index(nb.cells, label)]
    cell.source = found["smoke_parameters"]
    return True


def floors(metadata: dict, kind: str, label: str) -> dict[str, float]:
    """The floors of a smoke or a full run, by model."""
    found = settings(metadata, label) or {}
    return dict(found.get("floors", {}).get(kind, {}))


def below_floor(entry: dict, floor: float, kind: str) -> str | None:
    """Why one result bundle misses its floor, or None if it reaches it."""
    ours, metric, model = entry["ours"], entry["metric"], entry["model"]
    if metric == "accuracy" and ours < floor:
        return (f"'{model}' reached a test accuracy of {100 * ours:.2f} %, below the "
                f"{kind} run's floor of {100 * floor:.2f} %")
    if metric == "error" and ours > floor:
        return (f"'{model}' ended with a test error of {ours:.2f} %, above the "
                f"{kind} run's ceiling of {floor:.2f} %")
    return None


def failures(bundles: list[dict], table: dict[str, float], kind: str) -> list[str]:
    """Every floor missed by these bundles (a model may report more than once)."""
    found = []
    for entry in bundles:
        if entry["model"] in table:
            why = below_floor(entry, table[entry["model"]], kind)
            if why is not None:
                found.append(why)
    return found


def unreported(bundles: list[dict], table: dict[str, float]) -> list[str]:
    """Models with a floor that showed no result."""
    shown = {entry["model"] for entry in bundles}
    return [model for model in table if model not in shown]


def missing_results(bundles: list[dict], table: dict[str, float], kind: str) -> list[str]:
    """Why a run fails for each model with a floor that showed no result."""
    return [f"'{model}' has a {kind} run floor but showed no result"
            for model in unreported(bundles, table)]
