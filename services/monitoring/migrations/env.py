from services.monitoring.store import metadata
from services.runtime.db import runtime_metadata
from services.runtime.migrate import run_env

run_env(runtime_metadata, metadata)
