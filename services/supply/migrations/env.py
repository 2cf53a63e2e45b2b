from services.runtime.db import runtime_metadata
from services.runtime.migrate import run_env
from services.supply.store import metadata

run_env(runtime_metadata, metadata)
