"""The worker, built by the command that runs it: its app, topics, tables and agents, from the
settings and the two catalogues. Nothing is loaded or registered by importing a module, so a bad
catalogue stops the command with its error, and tests build what they need."""

from __future__ import annotations

from envalert.core.stations import load_stations
from rules.catalogue import load_catalogue
from streams.agents import add_storing_agents
from streams.app import App, Worker, make_app
from streams.city import add_city_agent
from streams.judging import Judging
from streams.metrics import add_metrics_page
from streams.settings import WorkerSettings


def build_worker(settings: WorkerSettings) -> App:
    app = make_app(settings)
    worker = Worker(app, settings, load_stations(settings.stations_file), load_catalogue(settings.rules_file))
    add_storing_agents(worker)
    add_city_agent(Judging(worker))
    add_metrics_page(app)
    return app
