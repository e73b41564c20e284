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
