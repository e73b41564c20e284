# The command line (kith COMMAND): what each command prints.

cli-not-on-open-profile = this command does not run on an open profile
cli-doctor-no-relay = no group, so no relay to check: give a relay address
cli-doctor-ok = ok
cli-doctor-fail = FAIL
cli-whoami = { $name }
    Fingerprint: { $fingerprint }
cli-group-created = Created group "{ $name }" ({ $id })
cli-keys-updated = Committed fresh keys (epoch { $epoch }).
cli-no-groups = No groups yet. Create one with: kith group create NAME --relay ADDRESS
cli-group-status-removed = [you were removed]
cli-group-status-left = [you left]
cli-waiting-to-join = (waiting for an admin to admit you)
cli-invite-valid = A one-time code, valid for { $valid }. Pass it on in person or by phone.
cli-invite-needs-approval = The joiner waits for an admin's approval: see kith requests "{ $group }"
cli-joined = Joined "{ $name }".
cli-sync-new = { $name }: { $new }
cli-sync-failed = kith: { $name }: could not sync: { $error }
cli-showing-stored = kith: could not sync ({ $error }); showing what is stored
cli-file-sent = Sent { $name } ({ $size }).
cli-no-files = No files in this group yet. Share one with: kith send-file GROUP PATH
cli-file-saved = Saved { $name } ({ $size }) to { $path }
cli-role-admin = admin
cli-role-member = member
cli-member-verified = verified
cli-member-unverified = not verified
cli-member-you = (you)
cli-removed-hidden = Removed { $name } and hid their messages.
cli-removed = Removed { $name }.
cli-left = You left the group.
cli-safety-number = Safety number with { $name }:
      { $number }
    Compare it with { $name } in person or on a call.
cli-marked-verified = Marked { $name } as verified.
cli-no-stdin-in-daemon = “-” stands for standard input, which a command run by the daemon does not have: send the text itself
cli-invite-preview = { $inviter } [{ $fingerprint }] invites you to “{ $group }” (relay { $relay }; the code is valid until { $until }, { $zone }).
cli-join-requested-approval = Join request sent. An admin must approve it; they will see your name and fingerprint.
cli-join-requested = Join request sent.
cli-not-admitted = Not admitted yet. An admin's client admits you when it is online; run kith sync later.
cli-relay-unreachable-retrying = kith: the relay cannot be reached ({ $error }); trying again in { $wait }
cli-notice-by = (by { $name })
cli-times-in = Times are { $zone }.

# kith while a daemon holds the profile, and kith daemon itself
cli-daemon-creation-secret = kith: a daemon holds this profile: KITH_CREATION_SECRET is taken from the daemon's environment, not this command's
cli-daemon-other-settings = a Kith daemon holds this profile and reaches relays with other settings ({ $key }: { $theirs } there, { $ours } here). Give this command the daemon's settings, or stop the daemon (`kith daemon --stop`) and run it again.
cli-daemon-no-version = the daemon did not say its version
cli-no-current-dir = the current directory: { $error }
cli-daemon-went-away = the daemon went away
cli-daemon-stopped = The daemon stopped.
cli-daemon-did-not-stop = the daemon did not stop within 10 s
cli-daemon-already = a Kith daemon already holds the profile in { $home }
cli-daemon-stop-for-passphrase = a Kith daemon holds this profile: stop it first (`kith daemon --stop`), then change the passphrase
cli-daemon-holds-profile-in = a Kith daemon holds a profile in { $home } already
cli-daemon-stop-for-wipe = a Kith daemon holds this profile: stop it first (`kith daemon --stop`), then wipe
cli-daemon-started = kith daemon: the profile in { $home } is open for other kith commands and programs (socket { $socket }). Ctrl-C or `kith daemon --stop` closes it.
cli-daemon-closed = kith daemon: stopped; the profile is closed.
cli-daemon-old-socket = removing the old socket { $socket }: { $error }
cli-daemon-cannot-listen = cannot listen on { $socket } ({ $error }); a path of more than ~100 bytes is too long for a socket: use a shorter --home
cli-daemon-socket-mode = setting the socket's mode: { $error }
cli-daemon-accept-failed = kith daemon: accepting a connection on the socket: { $error }
cli-daemon-read-failed = reading from the daemon: { $error }
cli-daemon-closed-connection = the daemon closed the connection (stopped, or it failed: see its output)
cli-daemon-nonsense = the daemon said nonsense: { $error }
cli-daemon-fatal = kith daemon: { $text }
cli-daemon-socket-read = reading the socket: { $error }
cli-group-name-taken = You have a group called "{ $name }" already: create another of the same name?

# The settings file (config.toml)
cli-config-unreadable = cannot read the settings file { $path }: { $error }
cli-config-invalid = the settings file { $path } is not valid: { $error }
cli-config-bad-lang = the settings file gives lang = "{ $value }": kith speaks en, ru
cli-config-bad-zone = the settings file gives zone = "{ $value }", which is not a time zone kith knows (give an IANA name such as Asia/Irkutsk)
cli-no-relay = which relay? Give --relay ADDRESS, or set relay = "ADDRESS" in the settings file

# An invite passed on by voice or by hand: the code apart from the relay's address
cli-code-needs-relay = this is an invite code without its relay: add --relay ADDRESS (the relay's address, which the person who invited you can tell you), or set relay = "ADDRESS" in the settings file
cli-code-bad-relay = "{ $relay }" is not a relay address: it looks like wss://host or wss://host:port
cli-invite-by-voice = To pass it on by voice or by hand: the code { $code }, on the relay { $relay }. The joiner runs: kith join { $code } --relay { $relay }

## The outbox
cli-send-kept = kith: not sent: { $why }
    The message waits in the outbox (encrypted, on this computer) and goes out with the next `kith send`, `kith sync` or chat. `kith outbox` lists it.
cli-send-kept-behind = kith: not sent yet: it waits in the outbox behind an earlier message whose delivery is not confirmed yet. `kith outbox` lists them.
cli-outbox-sent-earlier = { $n ->
    [one] kith: also sent { $n } earlier message from the outbox.
   *[other] kith: also sent { $n } earlier messages from the outbox.
}
cli-outbox-sent = { $n ->
    [one] kith: sent { $n } message from the outbox.
   *[other] kith: sent { $n } messages from the outbox.
}
cli-outbox-waiting = { $n ->
    [one] kith: { $n } message still waits in the outbox (`kith outbox` lists it).
   *[other] kith: { $n } messages still wait in the outbox (`kith outbox` lists them).
}
cli-outbox-dropped = kith: a message to "{ $group }" from the outbox was not sent and is dropped: { $why } («{ $text }»)
cli-outbox-dropped-one = Dropped message { $id } from the outbox.
cli-outbox-empty = The outbox is empty: every message you sent reached the relay.
cli-outbox-state-waiting = waiting for the relay
cli-outbox-unconfirmed = sent, not confirmed yet
cli-outbox-hint = kith: they go out with the next `kith send`, `kith sync` or chat; `kith outbox --drop N` drops one.

## The settings file's group
cli-config-no-group = name the group (or put group = "Name" in the settings file, { $path }, to use it when none is named)
cli-send-what = what should be sent? kith send "Group" "text" (or the text alone, with group = "Name" in the settings file)
