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
