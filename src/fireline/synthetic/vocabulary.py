"""Wording packs for the synthetic incident generator: archetypes of root causes and their text.

Template syntax: `{a|b|c}` picks one alternative; `<svc>` the reporting service, `<dep>` the
cause's dependency and `<comp>` its fixed component; `<host> <pod> <ip> <uuid> <hex> <num> <pct>
<dur> <size> <ver>` are volatile and change for every incident. Archetypes share vocabulary on
purpose. The "heldout" pack uses another business domain, other monitoring tools' phrasing and
other label keys, so a matcher tuned on "default" can be checked on wording it has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Archetype:
    key: str
    category: str
    alertname: str
    components: tuple[str, ...]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    needs_dependency: bool = False


@dataclass(frozen=True, slots=True)
class Pack:
    domains: tuple[str, ...]
    kinds: tuple[str, ...]
    stores: tuple[str, ...]
    archetypes: tuple[Archetype, ...]
    alert_titles: tuple[str, ...]
    generic_titles: tuple[str, ...]
    fillers: tuple[str, ...]
    label_style: str


def _a(key: str, category: str, alert: str, comps: str, titles: str, descs: str) -> Archetype:
    return Archetype(
        key=key,
        category=category,
        alertname=alert,
        components=tuple(comps.split(" ; ")),
        titles=tuple(titles.split(" || ")),
        descriptions=tuple(descs.split(" || ")),
        needs_dependency="<dep>" in comps,
    )


_DEFAULT = (
    _a("db_pool", "database", "DBConnectionPoolExhausted", "<dep>",
       "{Connection|DB connection} pool {exhausted|saturated|depleted} on <svc> || <svc>: {no free|cannot acquire} {connections|DB connections} to <comp> || {Timeouts|Timeout} acquiring {connection|db connection} from pool ({HikariCP|pgbouncer})",
       "{All|Every one of the} <num> connections to <comp> in use; requests {queueing|waiting} for a connection for <dur>. Host <host>. || {Pool|Connection pool} {exhausted|maxed out}: active=<num> idle=0 waiting=<num> on <pod>. {Slow|Long-running} transactions holding connections."),
    _a("db_down", "database", "PostgresPrimaryDown", "<dep>",
       "<comp> primary {unreachable|down|not responding} || Connection refused {connecting to|to} <comp> at <ip> || {Database|DB} <comp> {failed over|failover} to replica",
       "psql: could not connect to server: Connection refused. Is the server running on host <ip> and accepting TCP/IP connections on port 5432? || {Primary|Master} <comp> on <host> {crashed|went down}; {patroni|failover manager} promoted <host>. Writes failing for <dur>."),
    _a("slow_query", "database", "SlowQueries", "orders ; invoices ; sessions ; line_items ; events",
       "Slow {queries|SQL} {driving|causing} high latency on <svc> || p99 latency {up|spike} on <svc> due to {slow|long-running} queries on table <comp> || {Slow|Expensive} query on <comp> table",
       "Query <hex> on table <comp> taking <dur> ({seq scan|full table scan}, missing index). p99 latency <dur>. || {Sequential scan|Seq scan} on <comp>: rows examined <num>, {mean|avg} time <dur>; {added index|analyzed table} to mitigate."),
    _a("replication_lag", "database", "ReplicationLagHigh", "<dep>",
       "Replication lag on <comp> replica {above|over} <dur> || {Replica|Read replica} of <comp> {lagging|behind} primary || Stale reads: <comp> replica behind",
       "Replica <host> is <dur> behind primary; stale reads reported. WAL replay {slow|stalled} after {heavy|large} write burst. || replication lag <num> bytes on <host>; replica IO {saturated|throttled}."),
    _a("oom", "capacity", "KubePodOOMKilled", "heap ; image cache ; request buffer",
       "<svc> pods OOMKilled || {Memory leak|Memory growth} in <svc> {leading to|causing} OOM kills || Container <pod> killed: out of memory (exit code 137)",
       "Container memory {climbing|growing} steadily to the <size> limit, then OOMKilled. {Leak|Leaking} in <comp>; <num> restarts in <dur>. || Pod <pod> restarted <num> times, reason OOMKilled (exit code 137). RSS grows <size> per hour; {heap dump|profile} points at <comp>."),
    _a("gc", "performance", "JVMGCPauseLong", "old gen ; young gen",
       "Long GC pauses on <svc> || {Stop-the-world|Full} GC pauses {causing|driving} latency spikes on <host> || JVM garbage collection {taking|lasting} <dur> on <svc>",
       "{G1|CMS} <comp> collections {lasting|taking} <dur>; heap <pct> used after collection. Requests time out during pauses. || GC log on <host>: pause <dur>, <comp> occupancy <pct>. {Increased heap|Tuned GC} as mitigation."),
    _a("cpu_throttle", "performance", "CPUThrottlingHigh", "cpu limit",
       "CPU throttling on <svc> || <svc> containers {throttled|hitting CPU limit} || {High|Elevated} latency on <svc>: CPU throttled",
       "{cfs|CFS} throttled periods <pct> on <pod>; CPU limit of <num> millicores too low for {traffic peak|batch load}. Latency up. || CPU usage at limit on <host>; throttling <pct> of periods, request latency <dur>."),
    _a("disk_full", "capacity", "NodeFilesystemAlmostFull", "/var/lib/postgresql/data ; /var/log ; /data/kafka ; /var/lib/docker ; /tmp",
       "Disk {full|almost full|space low} on <host> || {Filesystem|Volume} <comp> {at|reached} <pct> on <svc> || No space left on device writing to <comp>",
       "Filesystem <comp> on <host> is <pct> full, <size> free. {Logs|Files} not rotated; {cleaned up|purged} old files. || write <comp>/<hex>.tmp: no space left on device (ENOSPC) on <host>; <size> used of <size>."),
    _a("cert_expiry", "security", "TLSCertificateExpiring", "<svc>.example.com ; <svc>.internal",
       "TLS certificate for <comp> {expires|expiring} {soon|in <num> days} || x509: certificate has expired for <comp> || {SSL|TLS} handshake failures: certificate {expired|not renewed} on <comp>",
       "Certificate for <comp> {expired|expires} on 2026-<num>-<num>; cert-manager renewal {failed|stuck} (ACME challenge <hex>). || Clients report x509: certificate has expired or is not yet valid when calling <comp>. {Renewal|Auto-renewal} job did not run."),
    _a("dns", "network", "DNSResolutionFailures", "<dep>",
       "DNS resolution {failures|errors} for <comp> || lookup <comp> {failing|fails}: no such host || <svc> cannot resolve <comp>",
       "dial tcp: lookup <comp>.svc.cluster.local on <ip>:53: no such host. CoreDNS {pods|replicas} {overloaded|restarting}. || {Intermittent|Sporadic} NXDOMAIN and SERVFAIL for <comp> from <pod>; <num> lookups failed in <dur>."),
    _a("upstream_5xx", "network", "IngressUpstream5xx", "ingress-nginx ; envoy ; alb",
       "<svc> returning {502|503} {from|at} <comp> || upstream connect error on <comp> for <svc> || {Bad gateway|Service unavailable} errors {on|from} <svc>",
       "<comp>: upstream connect error or disconnect/reset before headers. reset reason: connection termination; {backends|endpoints} <ip> {marked unhealthy|ejected}. || <pct> of requests through <comp> get 502/503; no healthy upstream for <svc> during {rollout|readiness flaps}."),
    _a("consumer_lag", "messaging", "KafkaConsumerLagHigh", "<svc>-events ; orders-events ; payments.v1 ; audit-log",
       "Consumer lag on topic <comp> {growing|high|increasing} || <svc> {consumers|consumer group} {falling behind|lagging} on <comp> || Kafka lag <num> messages on <comp>",
       "Consumer group <svc>-consumers lag <num> messages on <comp>; {rebalancing|rebalance loop} every <dur>, partitions <num>. || Messages on <comp> processed <dur> late; {consumer|worker} throughput dropped after {rebalance|poison message}."),
    _a("dead_letters", "messaging", "DeadLetterQueueGrowing", "<svc>-dlq ; webhook-dlq ; email-dlq",
       "Messages piling up in dead letter queue <comp> || {DLQ|Dead-letter queue} <comp> {growing|not empty} || {Failed|Rejected} messages landing in <comp>",
       "<num> messages in <comp>; {handler|consumer} throws {deserialization|schema} error on message <uuid>. || Dead letters on <comp>: payload schema mismatch after producer upgrade; <num> {failed|rejected} deliveries."),
    _a("bad_deploy", "change", "ErrorRateAfterDeploy", "feature flag new-checkout-flow ; config key timeout_ms ; schema migration",
       "Error rate spike after deploy of <svc> <ver> || {Deploy|Release} <ver> of <svc> {broke|breaks} requests || <svc>: {regression|errors} {introduced|caused} by {release|deployment} <ver>",
       "Errors began right after rollout <ver> ({commit|sha} <hex>); {rolled back|rollback} fixed it. Culprit: <comp>. || Release <ver> of <svc> changed <comp>; <pct> of requests {failing|failed} until rollback after <dur>."),
    _a("crashloop", "change", "KubePodCrashLooping", "DATABASE_URL ; secret <svc>-credentials ; configmap <svc>-config",
       "<svc> {in|stuck in} CrashLoopBackOff || {Pods|Pod} <pod> crash looping || <svc> {fails|failing} to start: missing <comp>",
       "Back-off restarting failed container in <pod>; {startup|boot} fails: <comp> not found. <num> restarts. || Container exits at startup with code <num>: {cannot read|missing} <comp> after {secret rotation|config change}."),
    _a("rate_limited", "third party", "ThirdPartyRateLimited", "Stripe ; Twilio ; SendGrid ; Google Maps ; Salesforce",
       "Rate limited by <comp> API (429) || <comp> returning 429 Too Many Requests to <svc> || {Calls|Requests} to <comp> {throttled|rate limited}",
       "<comp> API answers 429 Too Many Requests for <pct> of calls; retry storm from <svc> {workers|jobs}. Quota <num> requests per minute. || {Throttling|Rate limiting} from <comp>: retry-after <dur>; {batch|backfill} job exceeded quota."),
    _a("cron_failure", "batch", "CronJobFailed", "nightly-export ; invoice-batch ; cleanup-sessions ; report-generator",
       "{Nightly|Scheduled} job <comp> failed || Cron job <comp> {did not complete|exited with error} || <comp> job {failure|failed} on <svc>",
       "Job <comp>-<num> exited with code <num> after <dur>; last successful run <num> days ago. || CronJob <comp> failed: {timeout|deadline exceeded} after <dur> processing <num> records."),
    _a("cache_evictions", "capacity", "RedisEvictionsHigh", "<dep>",
       "Redis evictions {spiking|high} on <comp> || Cache hit ratio {dropped|down} on <svc> || <comp> {memory full|maxmemory reached}, keys evicted",
       "maxmemory reached on <comp>; evicted_keys <num>/s, hit ratio <pct>. {Backend|Database} load up as cache misses grow. || Cache <comp> evicting keys: used_memory <size> of <size>; {big keys|key explosion} from <svc>."),
    _a("node_not_ready", "infrastructure", "KubeNodeNotReady", "<svc>-pool ; <svc>-spot-pool",
       "Node <host> NotReady || Kubernetes node {NotReady|not ready} in <comp> || kubelet on <host> stopped posting status",
       "Node <host> in <comp> NotReady for <dur>: kubelet stopped posting node status; pods evicted. {Disk pressure|PLEG not healthy}. || PLEG is not healthy on <host>; <num> pods rescheduled from <comp>."),
    _a("upstream_timeout", "third party", "UpstreamTimeouts", "payments-gateway.example.com ; <dep>",
       "Timeouts calling <comp> from <svc> || <svc> requests to <comp> {timing out|time out} || {High|Elevated} latency {from|on} <comp>",
       "context deadline exceeded calling <comp> after <dur>; <pct> of requests time out. {Circuit breaker|Breaker} open. || Upstream <comp> slow: p99 <dur>; <svc> threads blocked waiting on <comp>."),
)  # fmt: skip

_HELDOUT = (
    _a("nagios_disk", "storage", "DiskSpace", "/ ; /var ; /srv/data ; /opt/app/logs",
       "PROBLEM: <host>/Disk Space is CRITICAL || ** PROBLEM alert - <host> partition <comp> is CRITICAL ** || Running out of disk on <svc> box <host>",
       "DISK CRITICAL - free space: <comp> <num> MB (<pct> inode=<pct>): || Partition <comp> nearly exhausted; {log spam|core dumps} filling it up."),
    _a("heap", "memory", "JvmHeapHigh", "session cache ; report builder ; image resizer",
       "[Triggered] JVM heap usage above <pct> on service:<svc> || Heap exhaustion on <svc> || java.lang.OutOfMemoryError: Java heap space in <svc>",
       "Avg jvm.heap_memory over last <dur> is <pct> on host:<host>. Heap dump shows <comp> retaining objects. || OutOfMemoryError: Java heap space at <comp>; instance <host> restarted."),
    _a("unreachable", "infrastructure", "AgentUnreachable", "esx-cluster-a ; esx-cluster-b ; rack-row-c",
       "Zabbix agent on <host> is unreachable for <dur> || <svc> host <host> unavailable || ICMP ping loss on <host>",
       "Agent unreachable; hypervisor <comp> {rebooted|migrated} VMs. <num> hosts affected. || Host <host> stopped answering ping after maintenance on <comp>."),
    _a("sso", "identity", "LoginFailures", "Okta ; Azure AD ; Keycloak",
       "Login page returns 500 || Users cannot sign in to <svc> || SSO callback failing with 500",
       "SAML assertion rejected: invalid signature after <comp> change; <num> failed logins in <dur>. || OIDC callback /auth/callback returns HTTP 500: invalid_grant from <comp>."),
    _a("webhooks", "integration", "WebhookDeliveryFailing", "partner-a.example.net ; crm.example.org ; erp.example.com",
       "Webhook deliveries to <comp> failing || Outbound hooks to <comp> {bouncing|rejected} || Partner <comp> not receiving events",
       "<pct> of webhook POSTs to https://<comp>/hooks?id=<hex> return 410; retries exhausted for <num> events. || Deliveries to <comp> rejected with 403 since signing secret rotation."),
    _a("bucket_denied", "storage", "ExportAccessDenied", "exports-prod ; <svc>-archive ; analytics-drop",
       "Export to bucket <comp> failing: AccessDenied || S3 PutObject AccessDenied for <svc> || Nightly export cannot write to <comp>",
       "AccessDenied on PutObject s3://<comp>/exports/<uuid>.csv; IAM role policy changed. || Bucket policy on <comp> denies the export role since <num>:<num>."),
    _a("search_red", "search", "ClusterHealthRed", "<dep> ; products-index ; logs-index",
       "Elasticsearch cluster status RED || Search cluster red: unassigned shards in <comp> || Search results missing, index <comp> unavailable",
       "cluster health red, <num> unassigned primary shards on <comp>-<num>; node <host> left the cluster. || Shard allocation failed for <comp>: disk watermark exceeded on <host>."),
    _a("fd_limit", "os", "TooManyOpenFiles", "http ; grpc ; sftp",
       "Too many open files on <svc> || EMFILE errors in <svc> workers || <svc> cannot accept connections: fd limit",
       "accept4: too many open files; ulimit -n <num>; fd leak in <comp> client. || lsof shows <num> sockets held by the <comp> client on <host>."),
    _a("clock_skew", "os", "ClockSkew", "pool.ntp.org ; time.internal",
       "Clock skew detected on <host> || NTP offset {large|too large} on <svc> hosts || Token validation failing: clock drift",
       "ntpd offset <dur> vs <comp>; token validation fails (iat in future). || chrony lost sync with <comp>; drift <dur> on <host>."),
    _a("gateway", "payments", "GatewayDegraded", "Adyen ; Braintree ; PayPal",
       "Customers cannot complete {payment|purchase} || Payments declined or timing out via <comp> || <comp> authorisations slow",
       "Gateway <comp> responds after <dur> or 504; conversion down <pct>. || Authorisation calls to <comp> time out; <num> orders stuck pending."),
    _a("indexer", "search", "IndexerStalled", "<dep>",
       "Search index stale || Indexer for <svc> stuck; new items not searchable || Bulk indexing rejected by <comp>",
       "Indexer lag <dur>; bulk requests rejected (es_rejected_execution_exception), queue size <num>. || Write thread pool queue full on <comp>; indexing backlog <num> docs."),
    _a("lb_health", "network", "TargetsUnhealthy", "public-alb ; internal-nlb ; edge-proxy",
       "Health checks failing behind <comp> || 0 healthy targets on <comp> || <svc> flapping behind <comp>",
       "target group <hex> has 0 healthy targets; /healthz timing out after <dur>. || Health check path returns 503 during warm-up; <comp> drains <svc> instances."),
    _a("rabbit_backlog", "queueing", "QueueBacklog", "<svc>.tasks ; mail.outbound ; billing.retry",
       "RabbitMQ queue <comp> backlog || Ready messages piling up in <comp> || Workers not draining <comp>",
       "<num> ready messages in <comp>; consumers <num>; unacked growing. || Consumers on <comp> blocked by a slow handler; backlog age <dur>."),
    _a("memcache", "caching", "CacheMissRate", "<dep>",
       "Memcached miss rate {spiking|up} for <svc> || Cache cold after restart of <comp> || Backend overloaded: cache misses on <comp>",
       "get_misses up <pct> on <comp>; slab evictions <num>/s. || Cache tier <comp> restarted, hit rate <pct>; origin overloaded."),
)  # fmt: skip

PACKS: dict[str, Pack] = {
    "default": Pack(
        domains=tuple(
            """checkout payments cart search catalog inventory orders shipping billing auth users
            notifications recommendations reviews pricing promotions gateway accounts ledger fraud
            loyalty media reporting analytics session profile wishlist returns tax invoices
            storefront subscriptions coupons identity emails sms ratings stock fulfilment""".split()
        ),
        kinds=("api", "worker", "web", "consumer", "scheduler", "grpc", "admin", "sync"),
        stores=("db", "redis", "kafka"),
        archetypes=_DEFAULT,
        alert_titles=(
            "[FIRING:<num>] {alertname} <svc>",
            "{alertname} on <svc> (<host>)",
            "{alertname}: <svc> {critical|warning}",
        ),
        generic_titles=(
            "High error rate on <svc>",
            "[FIRING:<num>] HighErrorRate <svc>",
            "<svc> 5xx rate above <pct>",
        ),
        fillers=(
            "Paged on-call at <num>:<num>.",
            "{Customers|Users} reported {errors|failures} via support (ticket <num>).",
            "See dashboard https://grafana.example.com/d/<hex>?from=<num>&to=<num>",
            "Runbook: https://wiki.example.com/runbooks/<svc>",
            "{Mitigated|Resolved} after <dur>.",
            "Trace id <hex>, request <uuid>.",
            "{Escalated to|Looped in} the <svc> owners.",
        ),
        label_style="prometheus",
    ),
    "heldout": Pack(
        domains=tuple(
            """fleet routing telemetry tracking dispatch warehouse transcode playback subtitles ads
            drivers depots tolls weather maps manifests customs tariffs crew ferries rail parcels
            lockers returns claims quotes contracts rostering fuel""".split()
        ),
        kinds=("svc", "backend", "jobs", "gw", "portal", "feed", "etl", "ingest", "edge", "core"),
        stores=("mysql", "es", "rabbit", "memcache"),
        archetypes=_HELDOUT,
        alert_titles=(
            "[Triggered] {alertname} on service:<svc>",
            "{alertname} - <svc> - host:<host>",
            "Monitor alert: {alertname} (<svc>)",
        ),
        generic_titles=(
            "[Triggered] Error budget burn on service:<svc>",
            "<svc> availability below SLO",
            "Synthetic check failing for <svc>",
        ),
        fillers=(
            "Customer success escalated from account <num>.",
            "War room opened in #inc-<num>.",
            "Monitor https://app.datadoghq.com/monitors/<num>?group=host%3A<host>",
            "Owner team {notified|paged}; bridge call at <num>:<num>.",
            "Recovered on its own after <dur>.",
        ),
        label_style="datadog",
    ),
}
