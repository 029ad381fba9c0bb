"""Scenario files (TOML) shared by the simulation and the load test, and their validated schema.

``load_scenario("baseline")`` finds a shipped file by name; a path works too.
"""

from scenarios.loader import LoadedScenario, ScenarioError, load_scenario, shipped_names
from scenarios.schema import Scenario

__all__ = ["LoadedScenario", "Scenario", "ScenarioError", "load_scenario", "shipped_names"]
