# profile
# The profile: creating, opening, wiping it, its passphrases; how a failure is said.

profile-error = kith: { $message }
profile-docs-failed = writing the docs to { $path }: { $error }

profile-none = there is no Kith profile in { $path } yet.
    To create one, run: kith init --name NAME
    If your profile is in another folder, add --home FOLDER to the command.
profile-none-doctor = there is no Kith profile in { $path }, so no group to take relays from: give a relay address or an invite code (kith doctor ADDRESS)
profile-exists = a Kith profile already exists in { $path }
profile-no-home-dir = no home directory; use --home DIR or KITH_HOME
profile-no-daemon = no daemon runs for this profile

profile-prompt = Passphrase:
profile-prompt-new = Passphrase:
profile-prompt-new-again = Passphrase again:
profile-prompt-changed = New passphrase:
profile-prompt-changed-again = New passphrase again:
profile-prompt-duress = Duress passphrase:
profile-prompt-duress-again = Duress passphrase again:
profile-no-passphrase = no passphrase: set { $env } or run in a terminal
profile-passphrases-differ = the passphrases differ
profile-passphrase-too-short = use a passphrase of at least { $n ->
    [one] { $n } character
   *[other] { $n } characters
}

profile-created = Profile created in { $path }
    Name:        { $name }
    Fingerprint: { $fingerprint }

profile-wipe-needs-yes = refusing to wipe without --yes when not in a terminal
profile-wipe-word = wipe
profile-wipe-confirm = Destroy the profile in { $path } for good? Type '{ $word }':
profile-wipe-not-wiped = not wiped
profile-wipe-none = there is no Kith profile in { $path }: nothing to wipe
profile-wiped = Profile destroyed.

profile-duress-same = the duress passphrase must differ from your passphrase
profile-duress-set = Duress passphrase set. Unlocking with it destroys this profile for good and opens an empty one of the same name in its place.
profile-passphrase-changed = Passphrase changed.

## duress notify (kith passphrase --duress --notify)
profile-duress-set-notify = Duress passphrase set, with notify. Unlocking with it first tells your groups that this device was unlocked under duress and leaves them (if a relay answers within 10 seconds), then destroys this profile for good and opens an empty one of the same name in its place. Keep in mind: with notify on, someone who copied this disk before and learns the duress passphrase can open this profile. To turn notify off, set the duress passphrase again without --notify.

## kith wipe --leave
profile-wipe-left = kith: left "{ $group }".
profile-wipe-not-left = kith: could not leave "{ $group }" ({ $why }); the others will still list you there until an admin removes you.
profile-wipe-leave-timeout = no answer in time

## --passphrase-file
profile-passphrase-file-unreadable = cannot read the passphrase file { $path }: { $error }
profile-passphrase-file-open = the passphrase file { $path } can be read by other users of this computer, so it is not used. Make it yours alone: chmod 600 { $path }
profile-passphrase-file-empty = the passphrase file { $path } is empty: its first line is the passphrase
