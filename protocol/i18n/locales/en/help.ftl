# kith --help: the opening, every command's one line, the options shared by all commands.
# (The options of each command are explained in English only, in kith COMMAND --help.)

help-about = The Kith terminal client: end-to-end-encrypted closed groups over a relay you do not have to trust.
help-start =
    Start here (a new member), in this order:
      1. kith init --name "Your Name"                      make your profile (once)
      2. kith join XXXX-XXXX-… --relay wss://relay.example  use the code you were given
      3. kith chat                                         talk (F1 inside shows the keys)
      4. kith send "Group" "text"                          or send from the command line
      5. kith read "Group"                                 and read what is new
    Starting a group instead: kith group create "Group" --relay wss://relay.example, then
    kith invite "Group" for a one-time code for each person.
help-usage = Usage:
help-commands = Commands:
help-options = Options:
help-cmd-init = Make your profile: an identity key and an encrypted local store
help-cmd-whoami = Show your name and fingerprint
help-cmd-group = Create, change, show or move a group
help-cmd-groups = List your groups with unread counts and pending joins
help-cmd-invite = Make a one-time invite code for a group (admins)
help-cmd-join = Use an invite: see who invites you where, ask to join, wait to be admitted
help-cmd-sync = Fetch everything new, and admit joiners (admins)
help-cmd-send = Send a text message (`-` reads it from standard input)
help-cmd-outbox = List the messages waiting to be sent (encrypted on this computer), or drop one
help-cmd-send-file = Send a file (at most 25 MiB, e.g. a scan of papers)
help-cmd-files = List the files shared in a group, numbered for kith get
help-cmd-get = Download a shared file, check it, and save it
help-cmd-read = Print new messages (or all with --all; --follow to keep going)
help-cmd-members = List a group's members: names, fingerprints, roles, verification
help-cmd-remove = Remove a member from a group (admins)
help-cmd-leave = Leave a group
help-cmd-verify = Show the safety number you share with a member; --confirm once you compared it
help-cmd-doctor = Find out why a relay cannot be reached, and what to try
help-cmd-chat = Open the full-screen chat (F1 inside shows the keys)
help-cmd-daemon = Keep the profile open for other kith commands, the chat and programs
help-cmd-passphrase = Change the passphrase, or set a duress passphrase (--duress; --notify to tell your groups first)
help-cmd-wipe = Destroy this profile so that nothing can be recovered from it
help-cmd-board = Show a group's pinned board, or change it (admins)
help-cmd-requests = List the join requests waiting for approval (admins)
help-cmd-approve = Approve a join request (admins)
help-cmd-deny = Deny a join request (admins)
help-cmd-promote = Make a member an admin (admins)
help-cmd-demote = Make an admin a plain member again (admins)
help-cmd-delete = Delete a message for everyone: yours, or anyone's if you are an admin
help-opt-home = Profile directory [env: KITH_HOME; default: ~/.local/share/kith]
help-opt-json = Print records as JSON lines instead of text
help-opt-lang = The language: en or ru [env: KITH_LANG; default: the system's]
help-opt-utc = Show times in UTC, not in your time zone
help-opt-proxy = Reach relays only through this SOCKS5 proxy, e.g. Tor's socks5://127.0.0.1:9050
help-opt-ca = Also trust the CA certificates in this PEM file for wss:// relays
help-opt-allow-plain-ws = Allow unencrypted ws:// to a relay that is neither on this machine nor a Tor .onion
help-opt-passphrase-file = Read the passphrase from the first line of this file (yours alone) instead of asking [env: KITH_PASSPHRASE_FILE]
help-opt-failover-after = How long a group's relay may stay unreachable before going on at a fallback
