# The relay (kith-relay): what it says to its operator: start-up, settings, the admin
# subcommands (check, stats, gc, healthcheck). Logs, the --json records and the
# "kith-relay listening on" / "kith-relay metrics on" lines (scripts read them) are not here.
# A translator: keep each id and each { $variable }; change everything else. Commands
# ({ $command }, { $stop }, { $metrics }, { $health }) stay as typed.

## Start-up and failures of the running relay

relay-started-data = kith-relay data in { $path }
relay-docs-failed = writing the docs to { $dir }: { $error }
relay-cannot-listen = cannot listen on { $addr }: { $error }
relay-cannot-listen-metrics = cannot listen for metrics on { $addr }: { $error }
relay-disk-failed = the disk failed to confirm a write ({ $error }). Stopping now so that the next start recovers every acknowledged message from the log. Check the disk (free space, `dmesg`), then start the relay again.

## Settings

relay-size-not-a-size = not a size: "{ $value }"
relay-size-unknown-unit = unknown size unit in "{ $value }" (use { $units })
relay-size-too-large = size too large: "{ $value }"
relay-metrics-listen-invalid = metrics-listen: not an address or `off`: "{ $value }"
relay-secret-file-unreadable = creation secret file { $path }: { $error }
relay-secret-file-empty = creation secret file { $path } is empty
relay-config-file-bad = config file { $path }: { $error }
relay-tls-cert-needs-key = tls-cert needs tls-key
relay-tls-key-needs-cert = tls-key needs tls-cert
relay-setting-not-positive = { $name } must be greater than zero
relay-max-group-bytes-too-small = max-group-bytes must hold at least one largest message (1MiB)
relay-max-invite-bytes-too-small = max-invite-bytes must hold at least one largest slot (1MiB welcome + 2 x 16KiB)
relay-outbox-bytes-too-small = outbox-bytes must hold at least one largest frame (1.1MiB)

## TLS files

relay-pem-no-block = no PEM block of the expected kind
relay-pem-malformed = malformed PEM
relay-tls-cert-file-bad = TLS certificate file { $path }: { $error }
relay-tls-cert-file-empty = TLS certificate file { $path }: no CERTIFICATE block
relay-tls-key-file-bad = TLS key file { $path }: { $error } (expected a PEM PRIVATE KEY)
relay-tls-config-failed = TLS: { $error }
relay-tls-pair-bad = TLS certificate { $cert } and key { $key }: { $error }

## The data directory

relay-data-dir-missing = data dir { $path } does not exist (check --data; the relay creates it on first start)
relay-data-dir-unopenable = cannot open data dir { $path }: { $error }
# The relay itself, started on a data dir another process holds.
relay-data-dir-locked = data dir { $path } is in use by another process (is the relay running? stop it first, e.g. `{ $stop }`)
# An admin subcommand on the data dir of a running relay: what to do instead.
relay-stats-locked =
    data dir { $path } is in use by another process: is the relay running? A running relay keeps its data dir locked, so `{ $command }` cannot read it.
    While it runs, read the same totals (all but the invite slots) from its metrics:
    {"  "}{ $metrics }
    Or stop the relay first (e.g. `{ $stop }`), run `{ $command }`, and start the relay again.
relay-stats-locked-no-metrics =
    data dir { $path } is in use by another process: is the relay running? A running relay keeps its data dir locked, so `{ $command }` cannot read it.
    Stop the relay first (e.g. `{ $stop }`), run `{ $command }`, and start the relay again. (With its metrics on, --metrics-listen, a running relay shows the same totals at /metrics.)
relay-gc-locked =
    data dir { $path } is in use by another process: is the relay running? A running relay keeps its data dir locked, so `{ $command }` cannot open it.
    A running relay deletes expired data by itself, every { $interval } and whenever a group's shorter retention needs it. To run it now anyway, stop the relay first (e.g. `{ $stop }`), run `{ $command }`, and start the relay again.
relay-check-locked = in use by another process: is the relay running? A running relay keeps its data dir locked, so `{ $command }` cannot open it: stop the relay first (e.g. `{ $stop }`), or ask the running relay whether it answers with `{ $health }`
relay-not-writable = not writable: { $error }

## kith-relay check

relay-check-settings-ok = settings: ok
relay-check-tls-ok = tls: ok (wss:// on { $addr }; { $n } certificate(s) from { $cert }; key { $key })
relay-check-tls-failed = tls: FAILED: { $error }
relay-check-tls-off = tls: off (plain ws:// on { $addr }; put a TLS reverse proxy in front)
relay-check-tls-off-public = tls: off, WARNING: plain ws:// on non-loopback { $addr } (clients need TLS: use --tls-cert/--tls-key or a reverse proxy on this host)
relay-check-metrics-public = metrics: WARNING: { $addr } is not loopback; keep /metrics private (firewall it)
relay-check-metrics = metrics: { $addr }
relay-check-metrics-off = metrics: off
relay-check-creation-restricted = group creation: restricted to holders of the creation secret
relay-check-creation-open = group creation: open to anyone who can connect (set creation_secret_file to restrict it)
relay-check-data-dir = data dir { $path }: { $status }
relay-check-data-dir-failed = data dir { $path }: FAILED: { $error }
relay-check-data-dir-parent-failed = does not exist, and { $parent }: { $error }
relay-check-data-dir-will-be-created = does not exist yet; the relay will create it (parent is writable)
relay-check-data-dir-not-a-dir = not a directory
relay-check-data-dir-ok = ok, writable ({ $groups ->
    [one] { $groups } group
   *[other] { $groups } groups
})
relay-check-failed = check failed ({ $n } problem(s) above)
relay-check-passed = all checks passed

## kith-relay stats (the labels are padded so that the numbers line up)

relay-stats-groups = groups:        { $n }
relay-stats-messages = messages:      { $n }
relay-stats-bytes = bytes:         { $n } ({ $size })
relay-stats-blobs = blobs:         { $n } ({ $size })
relay-stats-invite-slots = invite slots:  { $n } ({ $expired } expired, deleted by the next retention run)

## kith-relay gc

relay-gc-removed = removed { $messages } message(s) ({ $size }) and { $blobs } blob(s) ({ $blob_size }) older than { $retention } and { $slots } expired invite slot(s)
relay-gc-left = left: { $groups } group(s), { $messages } message(s), { $size }, { $slots } invite slot(s)

## kith-relay healthcheck

relay-healthcheck-ok = ok
relay-healthcheck-no-answer = no answer from { $addr } within { $timeout }
relay-healthcheck-failed = GET /healthz on { $addr }: { $error }
relay-healthcheck-status = GET /healthz on { $addr }: status { $status }
relay-healthcheck-not-http = not an HTTP answer

## Sizes beyond common.ftl's MiB

