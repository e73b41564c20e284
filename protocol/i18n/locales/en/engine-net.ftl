# The client engine, part 2: the connection to a relay, `kith doctor`, files, running a
# group (roles, board, settings, join requests), the live loop of the chat and the
# daemon, and the local store.
# A translator: keep each id and each { $variable }; change everything else.

## The connection to a relay

net-error-connect = could not connect to the relay: { $why }
net-error-setup = cannot connect to the relay: { $why }
net-error-certificate = the relay's TLS certificate is not trusted: { $why }
net-error-plain-ws = { $url }: this relay address uses plain ws://, which anyone on the network path can read and change (who talks to which group, when); use the wss:// or kith:// address, or pass --allow-plain-ws (or set { $var }) if you really mean it
net-error-refused = the relay refused: { $why } ({ $code })
net-error-protocol = the relay broke the protocol: { $why }
net-error-timeout = timed out waiting for the relay ({ $what })
net-waited-for-hello = connect and hello
net-waited-for-answer = request
net-error-closed = the connection to the relay is closed: { $why }
net-error-too-large = the request is too large to send ({ $size })
net-error-push-overflow = pushes were not consumed fast enough
net-error-blob-mismatch = the relay sent a blob that does not match its id

net-not-tls = this relay does not speak TLS: its address probably starts with ws://, not wss://
net-proxy-bad = proxy: { $why }; expected socks5://host:port, e.g. { $example }
net-proxy-not-socks5 = only SOCKS5 proxies are supported
net-proxy-no-host-port = no host:port
net-ca-file-bad = CA file { $path }: { $why }
net-ca-file-no-certificate = no CERTIFICATE in it
net-onion-needs-proxy = { $host } is a Tor onion service: start Tor and give --proxy socks5://127.0.0.1:9050 (or set { $var }); it was not looked up
net-through-proxy = through the SOCKS5 proxy { $proxy }: { $why }
net-url-bad-scheme = { $url }: a relay URL starts with ws:// or wss://
net-url-no-host = { $url }: no host

net-closed-ended = the connection ended
net-closed-by-client = closed by the client
net-closed-by-relay = the relay closed the connection

net-protocol-unasked = answer to request { $id }, which is not in flight
net-protocol-wrong-kind = answer to request { $id } is of the wrong kind ({ $answer })
net-protocol-hello-version = the relay answered Hello with version { $version }
net-protocol-hello-answer = Hello answered with { $answer }
net-protocol-other-group = the relay named another group
net-protocol-incoherent-page = incoherent fetch page
net-protocol-wrong-blob-id = the relay named a blob by a wrong id
net-protocol-unexpected-answer = unexpected answer { $answer }
net-protocol-over-limit = the relay sent a message over the limit: { $why }
net-protocol-text = the relay sent a text message
net-protocol-undecodable = undecodable frame: { $why }

## What a relay's error code means (the relay sends only the code)

net-code-bad-frame = the frame could not be decoded
net-code-unsupported-version = the relay does not speak this protocol version
net-code-hello-first = the connection must start with exactly one Hello
net-code-too-large = a field is larger than the protocol allows
net-code-rate-limited = too many requests; slow down
net-code-no-such-group = the relay has no such group
net-code-unauthorized = no access to this group and epoch on this connection
net-code-auth-failed = the access proof was wrong
net-code-bad-nonce = the challenge nonce is unknown or already used
net-code-stale-epoch = the group has moved to a newer epoch; fetch and retry
net-code-bad-padding = the payload is not padded to a bucket size
net-code-quota-exceeded = the group is over its storage quota on this relay
net-code-creation-forbidden = this relay does not let you create groups
net-code-slot-exists = an invite with this code already exists
net-code-no-such-invite = no such invite on this relay
net-code-invite-expired = the invite has expired
net-code-already-used = the invite was already used
net-code-not-answered = the invite has not been answered yet
net-code-forbidden = not allowed: the invite's token or the group's admin key is missing or wrong
net-code-too-many = a per-connection limit was reached
net-code-bad-request = the request's values are out of range
net-code-internal = the relay failed internally; try again
net-code-shutting-down = the relay is shutting down; reconnect later
net-code-no-such-blob = the relay has no such file chunk (it may have expired)
net-code-storage-unavailable = the relay could not store this right now (its disk is full or failing); nothing was stored; try again later
net-code-commit-locked = after a repair, only the group's admins may commit for a while; try later
net-code-invites-full = the relay holds as many invites as it can store; nothing was stored; try again later
net-code-knocks-full = the group already has as many requests to come back as it can hold; nothing was stored; try again later
net-code-group-exists = a group with this id already exists on this relay
net-code-unknown = the relay answered with an error this version does not know

## kith doctor: what each step saw, and what it means

net-doctor-no-answer-within = no answer within { $wait }
net-doctor-verdict-ok = The relay answers as a Kith relay ({ $hello }). Nothing to fix here.
net-doctor-verdict-not-an-address = This is not a relay address. One looks like { $wss } or { $ws }; check it with whoever gave it to you.
net-doctor-bad-scheme = the address starts with neither wss:// nor ws://
net-doctor-verdict-bad-scheme = This is not a relay address: it starts with wss:// (or ws://).
net-doctor-no-host = no host
net-doctor-verdict-no-host = This relay address names no host.
net-doctor-plain-ws = plain ws:// to a host on the network
net-doctor-verdict-plain-ws = This address is plain ws://: anyone on the way could read and change the traffic, so Kith refuses it. Use the relay's wss:// address (or --allow-plain-ws if you know why).
net-doctor-address-tls = { $host }:{ $port }, TLS
net-doctor-address-plain = { $host }:{ $port }, plain
net-doctor-onion-no-proxy = a .onion name, and no proxy
net-doctor-verdict-onion-no-proxy = A .onion relay is reached only through Tor: start Tor and give --proxy socks5://127.0.0.1:9050. (The name was not looked up here.)
net-doctor-verdict-ca-unreadable = The certificates Kith should trust could not be read (--ca).
net-doctor-verdict-bad-tls-name = This host name cannot be checked by TLS.
net-doctor-tls-no-answer = no answer to the TLS handshake
net-doctor-verdict-tls-no-answer = Something accepts connections there but does not finish TLS: the connection may be slowed or cut on its way (a block). Try Tor with bridges.
net-doctor-certificate-valid = the certificate is valid for { $host }
net-doctor-is-an-address = { $address } is an address: nothing to look up
net-doctor-no-address = no address
net-doctor-verdict-no-address = The name { $host } has no address: check the relay address; if it is right, the name may be blocked where you are — try Tor (--proxy socks5://127.0.0.1:9050).
net-doctor-resolved = { $host } is { $addresses }
net-doctor-verdict-lookup-failed = The name { $host } could not be looked up: check the relay address and your internet connection; if both are right, the name may be blocked where you are — try Tor (--proxy socks5://127.0.0.1:9050).
net-doctor-connected = connected to { $address }
net-doctor-verdict-refused = The machine answers, but nothing listens on that port (connection refused): the relay is not running, or the port in the address is wrong. Ask the person who runs it.
net-doctor-verdict-no-answer = No answer from the relay's machine: it is down, or the way to it is blocked. If other sites work, try Tor with bridges (--proxy), or a fallback relay.
net-doctor-verdict-proxy-bad = The --proxy address is not a SOCKS5 URL.
net-doctor-verdict-proxy-silent = The proxy at { $proxy } does not answer: is Tor running? (Tor Browser listens on 9150, the tor service on 9050.)
net-doctor-proxy-reached = the proxy { $proxy } reached { $host }:{ $port }
net-doctor-verdict-proxy-unreached = The proxy answers but could not reach { $host }:{ $port }: the relay may be down, or (with Tor) Tor itself may be blocked — set it up with bridges ({ $obfs4 }, { $snowflake } or { $webtunnel }).
net-doctor-verdict-certificate = The certificate presented is not a valid one for { $host }. Something may be intercepting the connection (a censor's proxy, a network that inspects traffic), or the relay's certificate is wrong or expired. Do not go on over this network: try Tor, and tell whoever runs the relay.
net-doctor-verdict-not-tls = Something answers there, but not with TLS: the address may name the wrong port (a plain web server, or a ws:// relay), or the connection is tampered with on its way.
net-doctor-verdict-web-server = A web server answers there ({ $status }), but no Kith relay at { $path }: check the address (a relay's ends in /v1, or nothing), or the proxy in front of the relay.
net-doctor-verdict-not-websocket = Something answers there, but it is not a WebSocket server: the address names the wrong service, or the connection is tampered with.
net-doctor-upgrade-no-answer = no answer to the upgrade
net-doctor-verdict-upgrade-no-answer = The server accepted the connection but did not answer: it may be overloaded, or the connection is slowed on its way.
net-doctor-upgraded = upgraded at { $path }
net-doctor-closed = closed: { $why }
net-doctor-verdict-not-kith = A WebSocket server answers there, but not as a Kith relay: the address names another service.
net-doctor-hello = protocol version { $version }, frames up to { $size }
net-doctor-verdict-other-version = The relay speaks another version of the protocol: update Kith (or the relay).
net-doctor-hello-no-answer = no answer to Hello

## Files

net-file-ref-too-large = a file larger than Kith accepts
net-file-ref-bad-chunk-size = a file with a chunk size the relay cannot store
net-file-ref-bad-chunk-list = a file whose chunk list does not match its size
net-file-chunk-altered = chunk { $chunk } of { $count } was altered on the relay or on the way; the file was refused and not saved
net-file-cannot-write = cannot write next to { $path }: { $why }
net-file-cannot-save = cannot save { $path }: { $why }
net-file-cannot-read = cannot read { $path }: { $why }
net-file-exists = { $face ->
    [chat] { $path } exists; save it under another name or in another folder: /get N PATH
   *[other] { $path } exists; use --force to replace it, or -o to save elsewhere
}
net-file-no-folder = the folder { $path } does not exist
net-file-names-no-file = { $path } names no file
net-file-not-a-file = { $path } is not a file
net-file-too-big = { $path } is { $size }; Kith sends files of at most { $limit }
net-file-quota-full = the relay's storage for this group's files is full; try again when older files have expired
net-file-chunk-ids-differ = the relay named the file's chunks by other ids
net-file-no-such = { $face ->
    [chat] no file "{ $name }" in this group (see /files)
   *[other] no file "{ $name }" in this group (see `kith files`)
}
net-file-ambiguous = { $face ->
    [chat] { $n } files are called "{ $name }"; name one by its number (see /files)
   *[other] { $n } files are called "{ $name }"; name one by its number (see `kith files`)
}
net-file-bad-padding = the file's padding is not what its sender made; the file was refused
net-file-bad-checksum = the file does not match the checksum its sender gave; the file was refused
net-file-transfer-incomplete = a blob transfer ended incomplete

## Running a group

net-admin-only-promote = only admins can promote members
net-admin-only-demote = only admins can demote admins
net-admin-only-board = only admins can edit the board
net-admin-only-settings = only admins can change the group's settings
net-admin-only-relays = only admins can change the group's relays
net-admin-only-deny = only admins can deny join requests
net-admin-only-approve = only admins can approve
net-admin-only-delete = only admins can delete other members' messages
net-admin-not-a-member = not a member of the group
net-admin-not-an-admin = not an admin
net-admin-last-admin = the group's only admin cannot step down; promote someone first
net-board-needs-title = a board entry needs a title
net-board-title-too-long = a board title has at most { $n } characters
net-board-text-too-long = a board entry has at most { $limit } of text ({ $size } given)
net-board-full = the board holds at most { $n } entries
net-board-no-entry = no board entry { $id }
net-settings-timer-range = the disappearing timer is between { $min } and { $max }, or off
net-settings-history-too-long = newcomers receive at most { $n } messages
net-fallback-not-an-address = not a relay address: "{ $url }" (wss://host[:port] or ws://host:port)
net-fallback-is-home = that is the group's own relay, not a fallback
net-fallback-unchecked = { $url } could not be reached to check that it takes the group ({ $why }). It is named anyway; if it asks for a creation secret, add it again with { $var } once it answers
net-fallback-too-many = a group names at most { $n } fallback relays
net-delete-no-message = no message { $seq } to delete
net-delete-not-admin = { $name } tried to delete another member's message without being an admin
net-notice-deleted = { $name } deleted a message of { $author }
net-hide-not-admin = { $name } tried to hide a member's messages without being an admin
net-notice-hid = { $name } hid the messages of { $member } ({ $n })
net-history-unexpected = { $name } sent history that this member did not expect (only the member who admitted you may, right after)
net-request-no-such = { $face ->
    [chat] no join request "{ $query }" (see /requests)
   *[other] no join request "{ $query }" (see `kith requests`)
}
net-request-ambiguous = { $n } requests match "{ $query }"; use the number or a fingerprint prefix
net-request-decided = another admin already decided this request
net-request-secret-not-sealed = this invite's secret was not sealed to you

## The live loop (the chat, the daemon): what it tells the screen

net-live-relay-offline = { $relay } is offline. { $verdict }
net-live-failed = { $context }: { $why }
net-live-no-answer = { $context }: the relay did not answer ({ $why }). Try again once connected.
net-live-subscribing = subscribing
net-live-connecting = connecting
net-live-sending = sending
net-live-joining = joining
net-live-joining-group = joining "{ $group }"
net-live-verify = verify
net-live-leave = leave
net-live-reading-history = reading the history
net-live-no-group = not a member of any group
net-live-goes-on-at = { $group } goes on at { $relay }.
net-live-joined = You joined { $group }.
net-live-send-unconfirmed = no answer from the relay: it may already have reached the group, and then it appears here once the chat is connected again; check before sending it again
net-live-send-unknown = no answer from the relay; it may or may not have been sent
net-live-held = Not sent, held until the group is repaired: { $why }
net-live-no-invite = No invite was made
net-live-nobody-removed = Nobody was removed
net-live-not-removed = { $name } was not removed
net-live-removed-hidden = Removed { $name } and hid their messages.
net-live-removed = Removed { $name }.
net-live-nothing-pinned = Nothing was pinned
net-live-pinned = Pinned [{ $id }] { $title } to the board.
net-live-entry-not-changed = Board entry [{ $id }] was not changed
net-live-entry-edited = Edited board entry [{ $id }].
net-live-entry-not-removed = Board entry [{ $id }] was not removed
net-live-entry-removed = Removed [{ $id }] from the board.
net-live-file-not-sent = { $name } was not sent
net-live-file-sent = Sent { $name }.
net-live-no-files = No files in this group.
net-live-file-item = { $number }. { $name } ({ $size }, { $sender })
net-live-files = Files: { $list } · /get N saves one
net-live-files-failed = Could not list the files
net-live-nothing-saved = Nothing was saved
net-live-file-saved = Saved { $name } ({ $size }) to { $path }
net-live-nobody-promoted = Nobody was promoted
net-live-not-promoted = { $name } was not made an admin
net-live-promoted = { $name } is now an admin.
net-live-nobody-demoted = Nobody was demoted
net-live-not-demoted = { $name } is still an admin
net-live-demoted = { $name } is no longer an admin.
net-live-nobody-approved = Nobody was approved
net-live-approved = Approved { $name }; they are being added.
net-live-nobody-denied = Nobody was denied
net-live-denied = Denied { $name }; their invite is closed.
net-live-not-deleted = The message was not deleted
net-live-deleted = Deleted the message for everyone.
net-live-settings-unchanged = The settings were not changed
net-live-disappear-off = Disappearing messages are off.
net-live-disappear-on = Messages now disappear { $after } after they are sent.
net-live-history-off = Newcomers receive no earlier messages.
net-live-history-on = { $n ->
    [one] Newcomers now receive the last { $n } message.
   *[other] Newcomers now receive the last { $n } messages.
}
net-live-dropped-held = { $n ->
    [one] Dropped { $n } held message.
   *[other] Dropped { $n } held messages.
}
net-live-marked-verified = Marked { $name } as verified.
net-live-left = You left the group.

## The local store

net-store-no-profile = no Kith profile here (no { $file })
net-store-profile-exists = a Kith profile already exists here
net-store-wrong-passphrase = wrong passphrase
net-store-in-use = this profile is already open in another Kith process (its database is locked); close that one first
net-store-corrupt = the local store is damaged: { $what }
net-store-unknown-version = { $file } has format version { $version }, which this Kith does not know
net-store-too-large = value too large for the local store
net-store-kdf = key derivation failed: { $why }
net-store-serde = could not (de)serialize a stored value: { $why }
net-store-io = I/O error in the local store: { $why }
net-store-db = database error: { $why }
net-store-poisoned = the store's pending changes are unusable after a panic; roll back
net-store-too-many-buckets = too many expiry buckets of expiring records

## Sealed invitations and message payloads

net-seal-invalid = the sealed data is damaged or not meant for this invite
net-seal-too-large = too large to seal
net-payload-too-large = message too large
net-payload-malformed = malformed message
