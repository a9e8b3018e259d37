"""What every part of the store shares: the client, the key names, the scripts, pipelining."""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script

from webhook_service.store import scripts
from webhook_service.store.connection import ClusterOnDemand
from webhook_service.store.keys import Keys


class StoreBase:
    """The client and the key layout; the store's parts (apply, reads, maintenance) extend it."""

    def __init__(
        self, client: redis.Redis | RedisCluster | ClusterOnDemand, prefix: str = "lp"
    ) -> None:
        # Any: redis-py's return types are unions over decode_responses and cluster mode.
        self._client: Any = client
        self.keys = Keys(prefix)
        self._cluster = isinstance(client, RedisCluster | ClusterOnDemand)
        register = client.register_script
        self._apply_and_index: Script = register(scripts.APPLY_AND_INDEX_STREAM_EVENT)
        self._apply_stream: Script = register(scripts.APPLY_STREAM_EVENT)  # cluster
        self._index_stream: Script = register(scripts.INDEX_STREAM_EVENT)  # cluster
        self._apply_global: Script = register(scripts.APPLY_GLOBAL_EVENT)
        self._forget_stream: Script = register(scripts.FORGET_STREAM)
        self._forget_index: Script = register(scripts.FORGET_STREAM_INDEX)

    def _run_pipelined(self, *calls: tuple[Script, list[str], list[Any]]) -> list[Any]:
        """EVALSHA the scripts in one pipeline; load them and retry once if Redis lost them.

        redis-py's own pipeline script support asks SCRIPT EXISTS first: a second round trip.
        """
        for attempt in range(2):
            pipe = self._client.pipeline(transaction=False)
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = pipe.execute(raise_on_error=False)
            errors = [r for r in results if isinstance(r, Exception)]
            if not errors:
                return list(results)
            if attempt == 0 and all(isinstance(e, redis.exceptions.NoScriptError) for e in errors):
                for script, _, _ in calls:
                    self._client.script_load(script.script)
                continue
            raise errors[0]
        raise AssertionError("unreachable")
