"""Every Redis key Touchpoint uses is built here.

Layout (`tp` is the namespace, `{...}` a Redis Cluster hash tag):
- `tp:{a:ARTIFACT}:live` — the live version of an artifact (string)
- `tp:{a:ARTIFACT}:versions` — versions, newest first (list)
- `tp:{a:ARTIFACT}:meta:VERSION` — a version's metadata (JSON string)
- `tp:ARTIFACT:VERSION:NAME` — a version's shared data (item table, popular lists, factors)
- `tp:ARTIFACT:VERSION:c:{CUSTOMER}:NAME` — a version's per-customer data
- `tp:c:{CUSTOMER}:NAME` — live per-customer state (recent events, counters)
- `tp:{s:STREAM}:stream` — an intake stream (`events`, `feedback`); `tp:{s:STREAM}:seen:ID`
  its idempotency marks and `tp:{s:STREAM}:lock` the ingest lock, all in the stream's slot;
  `tp:{s:STREAM}:x:NAME` a consumer's own state beside it (the webhook worker's retries)
- `tp:r:{RECOMMENDATION}:NAME` — what one recommendation served and what it converted
- `tp:{cases}:NAME` — follow-up cases (`store.cases`): a hash per case, its notes, the
  listing indexes; one hash tag so a case and its indexes change in one script. The streams
  a case's script appends to (`CASE_STREAMS`) are `tp:{cases}:s:STREAM:…` in the same slot
  (on Redis Cluster every case lives on one shard: see README, Scaling out)
- `tp:{exp}:NAME` — the A/B experiments' definitions and their revision (one MULTI);
  `tp:{exp:KEY}:NAME` — one experiment's per-customer tables, all in its own slot
- `tp:g:NAME` — global state (`Keys.global_`): API keys, redemptions, segment sizes, the
  dashboard's action log and session secret (`store.audit`), daily totals (`store.daily`)
- `tp:{cx}:day:DATE` — live survey counts of one UTC day (`store.live_feedback`)
- `tp:{s:STREAM}:stream` — a stream (`events`, `feedback`, `audit`, …); `tp:{s:STREAM}:seen:ID`
  its idempotency marks and `tp:{s:STREAM}:lock` the ingest lock, all in the stream's slot
- `tp:r:{RECOMMENDATION}:NAME` — what one recommendation served and what it converted
- `tp:{l:WHO}:SCOPE` — a rate-limit token bucket (`store.ratelimit`) of an API key or an address
- `tp:c:{CUSTOMER}:consent`, `…:consent:log` — live consent and its recent changes
  (`store.consent`); `tp:c:{ID}:merged…`, `…:unit` — identity merges (`store.identity`).
  Not versioned: they outlive every publish
- `tp:g:tombstones` — keyed hashes of erased customers (`store.erase`); `tp:g:erasure:key`
  the key of those hashes when no `TOUCHPOINT_ERASURE_KEY` is set
Per-customer keys share the `{customer_id}` tag so one pipeline to one shard serves a request.
"""

from __future__ import annotations

from dataclasses import dataclass

CASE_STREAMS = ("cases", "case-events")  # appended by a case's script: in the `{cases}` slot


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

    def stream_base(self, name: str) -> str:
        """The prefix of a stream's keys, whose hash tag is the stream's slot."""
        if name in CASE_STREAMS:
            return f"{self.namespace}:{{cases}}:s:{name}"
        return f"{self.namespace}:{{s:{name}}}"

    def stream(self, name: str) -> str:
        """An intake stream appended by the API and drained by `touchpoint ingest`."""
        return f"{self.stream_base(name)}:stream"

    def seen(self, stream: str, record_id: str) -> str:
        # Same hash tag as the stream: the idempotency check and the append run in one script.
        return f"{self.stream_base(stream)}:seen:{record_id}"

    def stream_lock(self, stream: str) -> str:
        """Held by the one `touchpoint ingest` draining a stream."""
        return f"{self.stream_base(stream)}:lock"

    def stream_state(self, stream: str, name: str) -> str:
        """A consumer's own state in the stream's slot: one MULTI acknowledges and moves."""
        return f"{self.stream_base(stream)}:x:{name}"

    def recommendation(self, recommendation_id: str, name: str) -> str:
        """Attribution of one served recommendation (`served`, `conversions`)."""
        return f"{self.namespace}:r:{{{recommendation_id}}}:{name}"

    def cases(self, name: str) -> str:
        """Follow-up cases and their listing indexes (`store.cases`), all in one slot."""
        return f"{self.namespace}:{{cases}}:{name}"

    def open_cases(self, customer_id: str) -> str:
        """A customer's open cases in the `{cases}` slot: on Redis Cluster the cases' scripts
        keep them here and copy them to the customer's own key (`store.case_events`)."""
        return self.cases(f"open:{customer_id}")

    def experiments(self, name: str) -> str:
        """The experiments' definitions (`defs`) and their revision (`defs:rev`)."""
        return f"{self.namespace}:{{exp}}:{name}"

    def experiment(self, key: str, name: str) -> str:
        """One experiment's per-customer table `name` (variant, first, exposures, …)."""
        return f"{self.namespace}:{{exp:{key}}}:{name}"

    def feedback_day(self, day: str) -> str:
        """Live survey counts of one UTC day (`YYYY-MM-DD`); one hash tag for every day, so
        the journey view reads a week of them in one round trip."""
        return f"{self.namespace}:{{cx}}:day:{day}"

    def rate_bucket(self, who: str, scope: str) -> str:
        """A token bucket of the rate limits: `who` is `k:KEYID`, `a:ADDRESS` or `f:ADDRESS`
        (failed authentications), `scope` the API scope (or `auth`)."""
        return f"{self.namespace}:{{l:{who}}}:{scope}"

    def consent(self, customer_id: str) -> str:
        """The customer's live consent (purpose -> "1"/"0"; unversioned: outlives publishes)."""
        return self.customer(customer_id, "consent")

    def consent_log(self, customer_id: str) -> str:
        """The customer's latest consent changes, newest first (a capped list of JSON)."""
        return self.customer(customer_id, "consent:log")

    def merged_into(self, anonymous_id: str) -> str:
        """On the visitor's slot: the customer id the visitor was merged into."""
        return self.customer(anonymous_id, "merged")

    def merged_from(self, customer_id: str, anonymous_id: str) -> str:
        """On the customer's slot: the merge of `anonymous_id` was applied (its result JSON)."""
        return self.customer(customer_id, f"merged:{anonymous_id}")

    def assignment_unit(self, customer_id: str) -> str:
        """The id the customer's A/B variants are hashed from after a merge (the visitor's)."""
        return self.customer(customer_id, "unit")

    def tombstones(self) -> str:
        """Keyed hashes of erased customer ids (`store.erase`): never the ids themselves."""
        return self.global_("tombstones")

    def erasure_key(self) -> str:
        """The key of the tombstones' hashes when no `TOUCHPOINT_ERASURE_KEY` is set."""
        return self.global_("erasure:key")

    def customer_pattern(self, customer_id: str) -> str:
        """SCAN pattern of every key tagged with the customer, live or in any version."""
        escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in customer_id)
        return f"{self.namespace}:*c:{{{escaped}}}:*"

    def tagged_customer(self, key: str) -> str | None:
        """The customer a key is tagged with (`…c:{ID}:…`, `customer` or `customer_data`),
        else None."""
        start = key.find(":c:{")
        if start < 0 or not key.startswith(self.namespace + ":"):
            return None
        end = key.find("}", start + 4)
        return key[start + 4 : end] if end > 0 else None
