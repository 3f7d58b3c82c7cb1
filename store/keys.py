"""Every Redis key Touchpoint uses is built here.

Layout (`tp` is the namespace, `{...}` a Redis Cluster hash tag):
- `tp:{a:ARTIFACT}:live` — the live version of an artifact (string)
- `tp:{a:ARTIFACT}:versions` — versions, newest first (list)
- `tp:{a:ARTIFACT}:meta:VERSION` — a version's metadata (JSON string)
- `tp:ARTIFACT:VERSION:NAME` — a version's shared data (item table, popular lists, factors)
- `tp:ARTIFACT:VERSION:c:{CUSTOMER}:NAME` — a version's per-customer data
- `tp:c:{CUSTOMER}:NAME` — live per-customer state (recent events, counters)
Per-customer keys share the `{customer_id}` tag so one pipeline to one shard serves a request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    namespace: str = "tp"

    def live(self, artifact: str) -> str:
        return f"{self.namespace}:{{a:{artifact}}}:live"

    def versions(self, artifact: str) -> str:
        return f"{self.namespace}:{{a:{artifact}}}:versions"

    def meta(self, artifact: str, version: str) -> str:
        return f"{self.namespace}:{{a:{artifact}}}:meta:{version}"

    def data(self, artifact: str, version: str, name: str) -> str:
        return f"{self.namespace}:{artifact}:{version}:{name}"

    def data_pattern(self, artifact: str, version: str) -> str:
        return f"{self.namespace}:{artifact}:{version}:*"

    def customer_data(self, artifact: str, version: str, customer_id: str, name: str) -> str:
        return f"{self.namespace}:{artifact}:{version}:c:{{{customer_id}}}:{name}"

    def customer(self, customer_id: str, name: str) -> str:
        return f"{self.namespace}:c:{{{customer_id}}}:{name}"

    def channel(self, name: str) -> str:
        """Pub/sub channel announcing version switches."""
        return f"{self.namespace}:switch:{name}"

    def global_(self, name: str) -> str:
        return f"{self.namespace}:g:{name}"
