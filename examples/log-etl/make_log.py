"""A baton `exec` worker: turns {"value": n} into a fake application log record.

baton runs one copy of this script per replica and talks to it over
stdin/stdout, one JSON object per line (docs/EXEC-PROTOCOL.md). The answer
is a new record, so it carries the request's id, `_request`, back itself.
"""
import json
import random
import sys

LEVELS = ["debug", "info", "info", "info", "warn", "error"]
SERVICES = ["api", "auth", "billing", "search"]
USERS = ["ada", "alan", "grace", "edsger", "barbara", "ken"]

for line in sys.stdin:
    request = json.loads(line)
    n = request["value"]
    rng = random.Random(n)
    level = rng.choice(LEVELS)
    record = {
        "_request": request["_request"],  # ties the answer to its request
        "ts": 1_700_000_000 + n,
        "level": level,
        "service": rng.choice(SERVICES),
        "msg": f"request done user={rng.choice(USERS)} code={rng.choice([200, 200, 201, 404, 500, 503])}",
    }
    print(json.dumps(record), flush=True)
