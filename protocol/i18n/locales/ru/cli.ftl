# Командная строка (kith КОМАНДА): что печатает каждая команда.

cli-not-on-open-profile = эта команда не работает с открытым профилем
cli-doctor-no-relay = групп нет, поэтому нечего проверять: укажите адрес сервера
cli-doctor-ok = ок
cli-doctor-fail = СБОЙ
cli-whoami = { $name }
    Отпечаток: { $fingerprint }
cli-group-created = Группа «{ $name }» создана ({ $id }).
cli-keys-updated = Ключи обновлены (эпоха { $epoch }).
cli-no-groups = Групп пока нет. Создайте группу: kith group create ИМЯ --relay АДРЕС
cli-group-status-removed = [вас исключили]
cli-group-status-left = [вы вышли]
cli-waiting-to-join = (ждёт, пока администратор вас примет)
cli-invite-valid = Одноразовый код, действует { $valid }. Передайте его лично или по телефону.
cli-invite-needs-approval = Вступающий ждёт одобрения администратора: см. kith requests "{ $group }"
cli-joined = Вы вступили в группу «{ $name }».
cli-sync-new = { $name }: { $new }
cli-sync-failed = kith: { $name }: не удалось получить новое: { $error }
cli-showing-stored = kith: не удалось получить новое ({ $error }); показано то, что уже сохранено
cli-file-sent = Файл { $name } ({ $size }) отправлен.
cli-no-files = В этой группе пока нет файлов. Поделиться файлом: kith send-file ГРУППА ПУТЬ
cli-file-saved = Файл { $name } ({ $size }) сохранён: { $path }
cli-role-admin = админ
cli-role-member = участник
cli-member-verified = проверен
cli-member-unverified = не проверен
cli-member-you = (вы)
cli-removed-hidden = Участник { $name } исключён из группы, его сообщения скрыты.
cli-removed = Участник { $name } исключён из группы.
cli-left = Вы вышли из группы.
cli-safety-number = Код безопасности (вы и { $name }):
      { $number }
    Сверьте его с тем, что видит { $name }, — лично или по телефону.
cli-marked-verified = Участник { $name } отмечен как проверенный.
cli-no-stdin-in-daemon = «-» означает стандартный ввод, которого у команды, выполняемой фоновым процессом, нет: передайте сам текст
cli-invite-preview = { $inviter } [{ $fingerprint }] приглашает вас в группу «{ $group }» (сервер { $relay }; код действует до { $until }, { $zone }).
cli-join-requested-approval = Заявка на вступление отправлена. Её должен одобрить администратор; он увидит ваше имя и отпечаток.
cli-join-requested = Заявка на вступление отправлена.
cli-not-admitted = Вас ещё не приняли. Программа администратора примет вас, когда он будет в сети; позже запустите kith sync.
cli-relay-unreachable-retrying = kith: сервер недоступен ({ $error }); новая попытка через { $wait }
cli-notice-by = ({ $name })
cli-times-in = Время: { $zone }.

# kith, когда профиль держит фоновый процесс, и сам kith daemon
cli-daemon-creation-secret = kith: этот профиль держит фоновый процесс: KITH_CREATION_SECRET берётся из его окружения, а не из окружения этой команды
cli-daemon-other-settings = этот профиль держит фоновый процесс Kith, и он подключается к серверам с другими настройками ({ $key }: там { $theirs }, здесь { $ours }). Дайте этой команде те же настройки или остановите фоновый процесс (`kith daemon --stop`) и повторите команду.
cli-daemon-no-version = фоновый процесс не сообщил свою версию
cli-no-current-dir = текущая папка: { $error }
cli-daemon-went-away = фоновый процесс завершился
cli-daemon-stopped = Фоновый процесс остановлен.
cli-daemon-did-not-stop = фоновый процесс не остановился за 10 секунд
cli-daemon-already = профиль в { $home } уже держит фоновый процесс Kith
cli-daemon-stop-for-passphrase = этот профиль держит фоновый процесс Kith: сначала остановите его (`kith daemon --stop`), затем меняйте пароль
cli-daemon-holds-profile-in = в { $home } уже есть профиль, и его держит фоновый процесс Kith
cli-daemon-stop-for-wipe = этот профиль держит фоновый процесс Kith: сначала остановите его (`kith daemon --stop`), затем удаляйте профиль
cli-daemon-started = kith daemon: профиль в { $home } открыт для других команд kith и программ (сокет { $socket }). Закрыть: Ctrl-C или `kith daemon --stop`.
cli-daemon-closed = kith daemon: остановлен; профиль закрыт.
cli-daemon-old-socket = не удалось удалить старый сокет { $socket }: { $error }
cli-daemon-cannot-listen = не удалось открыть сокет { $socket } ({ $error }); путь длиннее ~100 байт слишком длинный для сокета: укажите более короткий --home
cli-daemon-socket-mode = не удалось задать права сокета: { $error }
cli-daemon-accept-failed = kith daemon: ошибка при приёме подключения: { $error }
cli-daemon-read-failed = ошибка чтения от фонового процесса: { $error }
cli-daemon-closed-connection = фоновый процесс закрыл соединение (остановлен или сбой: смотрите его вывод)
cli-daemon-nonsense = фоновый процесс ответил непонятное: { $error }
cli-daemon-fatal = kith daemon: { $text }
cli-daemon-socket-read = не удалось прочитать сокет: { $error }
cli-group-name-taken = У вас уже есть группа «{ $name }»: создать ещё одну с тем же именем?

# Файл настроек (config.toml)
cli-config-unreadable = не удалось прочитать файл настроек { $path }: { $error }
cli-config-invalid = в файле настроек { $path } ошибка: { $error }
cli-config-bad-lang = в файле настроек указан язык lang = "{ $value }", а kith знает только en и ru
cli-config-bad-zone = в файле настроек указан часовой пояс zone = "{ $value }", которого kith не знает (укажите имя вроде Asia/Irkutsk)
cli-no-relay = на каком сервере? Укажите --relay АДРЕС или впишите relay = "АДРЕС" в файл настроек

# Приглашение, переданное голосом или на бумаге: код отдельно от адреса сервера
cli-code-needs-relay = это код приглашения без адреса сервера: добавьте --relay АДРЕС (адрес сервера вам скажет тот, кто приглашает) или впишите relay = "АДРЕС" в файл настроек
cli-code-bad-relay = «{ $relay }» — не адрес сервера: он выглядит как wss://сервер или wss://сервер:порт
cli-invite-by-voice = Чтобы передать голосом или на бумаге: код { $code }, сервер { $relay }. Вступающий запускает: kith join { $code } --relay { $relay }

## The outbox
cli-send-kept = kith: не отправлено: { $why }
    Сообщение ждёт в очереди на отправку (зашифровано, на этом компьютере) и уйдёт при следующем `kith send`, `kith sync` или в чате. Список: `kith outbox`.
cli-send-kept-behind = kith: пока не отправлено: оно ждёт в очереди за более ранним сообщением, доставка которого ещё не подтверждена. Список: `kith outbox`.
cli-outbox-sent-earlier = { $n ->
    [one] kith: заодно отправлено { $n } более раннее сообщение из очереди.
    [few] kith: заодно отправлены { $n } более ранних сообщения из очереди.
   *[many] kith: заодно отправлено { $n } более ранних сообщений из очереди.
}
cli-outbox-sent = { $n ->
    [one] kith: из очереди отправлено { $n } сообщение.
    [few] kith: из очереди отправлены { $n } сообщения.
   *[many] kith: из очереди отправлено { $n } сообщений.
}
cli-outbox-waiting = { $n ->
    [one] kith: { $n } сообщение всё ещё ждёт в очереди (список: `kith outbox`).
    [few] kith: { $n } сообщения всё ещё ждут в очереди (список: `kith outbox`).
   *[many] kith: { $n } сообщений всё ещё ждут в очереди (список: `kith outbox`).
}
cli-outbox-dropped = kith: сообщение из очереди в группу «{ $group }» не отправлено и удалено: { $why } («{ $text }»)
cli-outbox-dropped-one = Сообщение { $id } удалено из очереди.
cli-outbox-empty = Очередь пуста: все ваши сообщения дошли до сервера.
cli-outbox-state-waiting = ждёт сервера
cli-outbox-unconfirmed = отправлено, ждёт подтверждения
cli-outbox-hint = kith: они уйдут при следующем `kith send`, `kith sync` или в чате; `kith outbox --drop N` удаляет одно из них.

## The settings file's group
cli-config-no-group = укажите группу (или впишите group = "Название" в файл настроек, { $path }, — тогда она будет использоваться, когда группа не названа)
cli-send-what = что отправить? kith send "Группа" "текст" (или только текст, если в файле настроек есть group = "Название")
