# Ядро клиента, часть 2: соединение с сервером, `kith doctor`, файлы, управление группой
# (роли, доска, настройки, заявки на вступление), цикл чата и фонового процесса,
# локальное хранилище.
# Переводчику: сохраняйте каждый id и каждую { $переменную }, меняйте всё остальное.

## Соединение с сервером

net-error-connect = не удалось подключиться к серверу: { $why }
net-error-setup = подключиться к серверу нельзя: { $why }
net-error-certificate = сертификат TLS сервера не вызывает доверия: { $why }
net-error-plain-ws = { $url }: этот адрес сервера использует незашифрованный ws://, а такой трафик любой на пути по сети может читать и менять (кто с какой группой общается и когда); используйте адрес wss:// или kith://, а если вы действительно этого хотите, укажите --allow-plain-ws (или задайте { $var })
net-error-refused = сервер отказал: { $why } ({ $code })
net-error-protocol = сервер нарушил протокол: { $why }
net-error-timeout = сервер не ответил вовремя ({ $what })
net-waited-for-hello = подключение и приветствие
net-waited-for-answer = запрос
net-error-closed = соединение с сервером закрыто: { $why }
net-error-too-large = запрос слишком велик для отправки ({ $size })
net-error-push-overflow = новые сообщения от сервера не успевали обрабатываться
net-error-blob-mismatch = сервер прислал данные, которые не совпадают со своим идентификатором

net-not-tls = этот сервер не поддерживает TLS: вероятно, его адрес начинается с ws://, а не с wss://
net-proxy-bad = прокси: { $why }; нужен адрес вида socks5://ХОСТ:ПОРТ, например { $example }
net-proxy-not-socks5 = поддерживаются только прокси SOCKS5
net-proxy-no-host-port = не указаны ХОСТ:ПОРТ
net-ca-file-bad = файл сертификатов { $path }: { $why }
net-ca-file-no-certificate = в нём нет ни одного сертификата
net-onion-needs-proxy = { $host } — это onion-сервис Tor: запустите Tor и укажите --proxy socks5://127.0.0.1:9050 (или задайте { $var }); это имя нигде не запрашивалось
net-through-proxy = через прокси SOCKS5 { $proxy }: { $why }
net-url-bad-scheme = { $url }: адрес сервера начинается с ws:// или wss://
net-url-no-host = { $url }: в адресе не указан сервер

net-closed-ended = соединение прервалось
net-closed-by-client = соединение закрыто с нашей стороны
net-closed-by-relay = сервер закрыл соединение

net-protocol-unasked = ответ на запрос { $id }, которого не ждали
net-protocol-wrong-kind = ответ на запрос { $id } не того вида ({ $answer })
net-protocol-hello-version = сервер ответил на приветствие версией { $version }
net-protocol-hello-answer = на приветствие пришёл ответ { $answer }
net-protocol-other-group = сервер назвал другую группу
net-protocol-incoherent-page = несогласованная страница сообщений
net-protocol-wrong-blob-id = сервер назвал данные неверным идентификатором
net-protocol-unexpected-answer = неожиданный ответ { $answer }
net-protocol-over-limit = сервер прислал сообщение больше допустимого размера: { $why }
net-protocol-text = сервер прислал текстовое сообщение
net-protocol-undecodable = нечитаемый кадр: { $why }

## Что означает код ошибки сервера (сервер присылает только код)

net-code-bad-frame = кадр не удалось разобрать
net-code-unsupported-version = сервер не поддерживает эту версию протокола
net-code-hello-first = соединение должно начинаться ровно с одного приветствия
net-code-too-large = поле больше, чем допускает протокол
net-code-rate-limited = слишком много запросов; подождите немного
net-code-no-such-group = на сервере нет такой группы
net-code-unauthorized = у этого соединения нет доступа к этой группе и эпохе
net-code-auth-failed = подтверждение доступа неверно
net-code-bad-nonce = одноразовое число запроса неизвестно или уже использовано
net-code-stale-epoch = группа перешла в новую эпоху; получите новые сообщения и повторите
net-code-bad-padding = данные не дополнены до допустимого размера
net-code-quota-exceeded = группа превысила свой объём хранения на этом сервере
net-code-creation-forbidden = этот сервер не разрешает вам создавать группы
net-code-slot-exists = приглашение с таким кодом уже существует
net-code-no-such-invite = на этом сервере нет такого приглашения
net-code-invite-expired = срок действия приглашения истёк
net-code-already-used = приглашение уже использовано
net-code-not-answered = на приглашение ещё не ответили
net-code-forbidden = нет разрешения: токен приглашения или ключ администратора группы не указан или неверен
net-code-too-many = достигнут предел для одного соединения
net-code-bad-request = значения в запросе вне допустимых пределов
net-code-internal = внутренний сбой сервера; попробуйте ещё раз
net-code-shutting-down = сервер выключается; подключитесь позже
net-code-no-such-blob = на сервере нет такой части файла (возможно, срок её хранения истёк)
net-code-storage-unavailable = сервер сейчас не может это сохранить (его диск заполнен или неисправен); ничего не сохранено; попробуйте позже
net-code-commit-locked = после восстановления группы изменять её некоторое время могут только администраторы; попробуйте позже
net-code-invites-full = на сервере уже хранится столько приглашений, сколько он может вместить; ничего не сохранено; попробуйте позже
net-code-knocks-full = у группы уже столько просьб о возвращении, сколько она может вместить; ничего не сохранено; попробуйте позже
net-code-group-exists = группа с таким идентификатором уже есть на этом сервере
net-code-unknown = сервер ответил ошибкой, которую эта версия программы не знает

## kith doctor: что показал каждый шаг и что это значит

net-doctor-no-answer-within = нет ответа; время ожидания: { $wait }
net-doctor-verdict-ok = Сервер отвечает как сервер Kith ({ $hello }). Здесь нечего исправлять.
net-doctor-verdict-not-an-address = Это не адрес сервера. Адрес сервера выглядит так: { $wss } или { $ws }; уточните его у того, кто вам его дал.
net-doctor-bad-scheme = адрес начинается не с wss:// и не с ws://
net-doctor-verdict-bad-scheme = Это не адрес сервера: адрес сервера начинается с wss:// (или ws://).
net-doctor-no-host = в адресе не указан сервер
net-doctor-verdict-no-host = В этом адресе не указан сервер.
net-doctor-plain-ws = незашифрованный ws:// к машине в сети
net-doctor-verdict-plain-ws = Это незашифрованный адрес ws://: любой на пути может читать и менять трафик, поэтому Kith его не принимает. Используйте адрес сервера wss:// (или --allow-plain-ws, если вы понимаете, зачем это нужно).
net-doctor-address-tls = { $host }:{ $port }, TLS
net-doctor-address-plain = { $host }:{ $port }, без шифрования
net-doctor-onion-no-proxy = адрес .onion, а прокси не задан
net-doctor-verdict-onion-no-proxy = Сервер .onion доступен только через Tor: запустите Tor и укажите --proxy socks5://127.0.0.1:9050. (Здесь это имя не запрашивалось.)
net-doctor-verdict-ca-unreadable = Не удалось прочитать сертификаты, которым Kith должен доверять (параметр --ca).
net-doctor-verdict-bad-tls-name = Это имя сервера нельзя проверить через TLS.
net-doctor-tls-no-answer = нет ответа на установку TLS
net-doctor-verdict-tls-no-answer = Там что-то принимает соединения, но не завершает установку TLS: возможно, соединение по пути замедляют или обрывают (блокировка). Попробуйте Tor с мостами.
net-doctor-certificate-valid = сертификат действителен для { $host }
net-doctor-is-an-address = { $address } — это адрес: искать нечего
net-doctor-no-address = адреса нет
net-doctor-verdict-no-address = У имени { $host } нет адреса: проверьте адрес сервера; если он верен, имя может быть заблокировано там, где вы находитесь, — попробуйте Tor (--proxy socks5://127.0.0.1:9050).
net-doctor-resolved = { $host } — это { $addresses }
net-doctor-verdict-lookup-failed = Имя { $host } не удалось найти: проверьте адрес сервера и подключение к интернету; если всё верно, имя может быть заблокировано там, где вы находитесь, — попробуйте Tor (--proxy socks5://127.0.0.1:9050).
net-doctor-connected = подключено к { $address }
net-doctor-verdict-refused = Машина отвечает, но на этом порту никто не слушает (в соединении отказано): сервер не запущен, или в адресе неверный порт. Спросите того, кто поддерживает сервер.
net-doctor-verdict-no-answer = Машина сервера не отвечает: она выключена, или путь к ней заблокирован. Если другие сайты открываются, попробуйте Tor с мостами (--proxy) или запасной сервер.
net-doctor-verdict-proxy-bad = Адрес в --proxy — не адрес прокси SOCKS5.
net-doctor-verdict-proxy-silent = Прокси { $proxy } не отвечает: запущен ли Tor? (Браузер Tor слушает порт 9150, служба Tor — порт 9050.)
net-doctor-proxy-reached = прокси { $proxy } соединился с { $host }:{ $port }
net-doctor-verdict-proxy-unreached = Прокси отвечает, но не может соединиться с { $host }:{ $port }: возможно, сервер не работает, или (при работе через Tor) заблокирован сам Tor — настройте его с мостами ({ $obfs4 }, { $snowflake } или { $webtunnel }).
net-doctor-verdict-certificate = Предъявленный сертификат недействителен для { $host }. Возможно, соединение перехватывают (прокси цензора, сеть, которая проверяет трафик), или сертификат сервера неверен либо просрочен. Не продолжайте через эту сеть: попробуйте Tor и сообщите тому, кто поддерживает сервер.
net-doctor-verdict-not-tls = Там что-то отвечает, но не по TLS: возможно, в адресе неверный порт (обычный веб-сервер или сервер ws://), или соединение подменяют по пути.
net-doctor-verdict-web-server = Там отвечает веб-сервер ({ $status }), но сервера Kith по пути { $path } нет: проверьте адрес (адрес сервера заканчивается на /v1 или ничем) или прокси перед сервером.
net-doctor-verdict-not-websocket = Там что-то отвечает, но это не WebSocket-сервер: адрес указывает не на ту службу, или соединение подменяют.
net-doctor-upgrade-no-answer = нет ответа на переключение протокола
net-doctor-verdict-upgrade-no-answer = Сервер принял соединение, но не ответил: возможно, он перегружен, или соединение по пути замедляют.
net-doctor-upgraded = протокол переключён по пути { $path }
net-doctor-closed = закрыто: { $why }
net-doctor-verdict-not-kith = Там отвечает WebSocket-сервер, но не как сервер Kith: адрес указывает на другую службу.
net-doctor-hello = версия протокола { $version }, кадры до { $size }
net-doctor-verdict-other-version = Сервер использует другую версию протокола: обновите Kith (или сервер).
net-doctor-hello-no-answer = нет ответа на приветствие

## Файлы

net-file-ref-too-large = файл больше, чем принимает Kith
net-file-ref-bad-chunk-size = файл с таким размером частей, который сервер не может хранить
net-file-ref-bad-chunk-list = файл, список частей которого не соответствует его размеру
net-file-chunk-altered = часть { $chunk } из { $count } изменена на сервере или по пути; файл отвергнут и не сохранён
net-file-cannot-write = не удалось записать рядом с { $path }: { $why }
net-file-cannot-save = не удалось сохранить { $path }: { $why }
net-file-cannot-read = не удалось прочитать { $path }: { $why }
net-file-exists = { $face ->
    [chat] { $path } уже существует; сохраните файл под другим именем или в другую папку: /get НОМЕР ПУТЬ
   *[other] { $path } уже существует; чтобы заменить его, добавьте --force, а чтобы сохранить в другое место — -o
}
net-file-no-folder = папки { $path } не существует
net-file-names-no-file = { $path } — это не имя файла
net-file-not-a-file = { $path } — не файл
net-file-too-big = { $path } занимает { $size }; Kith отправляет файлы размером не больше { $limit }
net-file-quota-full = место для файлов этой группы на сервере закончилось; попробуйте снова, когда истечёт срок хранения старых файлов
net-file-chunk-ids-differ = сервер назвал части файла другими идентификаторами
net-file-no-such = { $face ->
    [chat] в этой группе нет файла «{ $name }» (см. /files)
   *[other] в этой группе нет файла «{ $name }» (см. kith files)
}
net-file-ambiguous = { $face ->
    [chat] файлов с именем «{ $name }»: { $n }; укажите номер файла (см. /files)
   *[other] файлов с именем «{ $name }»: { $n }; укажите номер файла (см. kith files)
}
net-file-bad-padding = дополнение файла не такое, каким его сделал отправитель; файл отвергнут
net-file-bad-checksum = файл не совпадает с контрольной суммой, которую указал отправитель; файл отвергнут
net-file-transfer-incomplete = передача данных закончилась не полностью

## Управление группой

net-admin-only-promote = назначать администраторов могут только администраторы
net-admin-only-demote = снимать права администратора могут только администраторы
net-admin-only-board = менять доску могут только администраторы
net-admin-only-settings = менять настройки группы могут только администраторы
net-admin-only-relays = менять серверы группы могут только администраторы
net-admin-only-deny = отклонять заявки на вступление могут только администраторы
net-admin-only-approve = одобрять заявки на вступление могут только администраторы
net-admin-only-delete = удалять сообщения других участников могут только администраторы
net-admin-not-a-member = не участник группы
net-admin-not-an-admin = не администратор
net-admin-last-admin = единственный администратор группы не может снять с себя права; сначала назначьте администратором кого-то ещё
net-board-needs-title = у записи на доске должен быть заголовок
net-board-title-too-long = в заголовке записи на доске может быть не больше { $n ->
    [one] { $n } символа
   *[other] { $n } символов
}
net-board-text-too-long = текст записи на доске может занимать не больше { $limit } (сейчас { $size })
net-board-full = на доске может быть не больше { $n ->
    [one] { $n } записи
   *[other] { $n } записей
}
net-board-no-entry = записи { $id } на доске нет
net-settings-timer-range = таймер исчезающих сообщений можно задать в пределах: { $min } — { $max }, или выключить
net-settings-history-too-long = новым участникам можно передать не больше { $n ->
    [one] { $n } сообщения
   *[other] { $n } сообщений
}
net-fallback-not-an-address = это не адрес сервера: «{ $url }» (wss://ХОСТ[:ПОРТ] или ws://ХОСТ:ПОРТ)
net-fallback-is-home = это основной сервер группы, а не запасной
net-fallback-unchecked = не удалось связаться с { $url }, чтобы проверить, примет ли он группу ({ $why }). Он всё равно добавлен; если он попросит секрет для создания групп, добавьте его снова с переменной { $var }, когда он ответит
net-fallback-too-many = у группы может быть не больше { $n ->
    [one] { $n } запасного сервера
   *[other] { $n } запасных серверов
}
net-delete-no-message = нет сообщения { $seq }, которое можно удалить
net-delete-not-admin = { $name }: попытка удалить чужое сообщение без прав администратора
net-notice-deleted = Сообщение участника { $author } удалено участником { $name }
net-hide-not-admin = { $name }: попытка скрыть сообщения участника без прав администратора
net-notice-hid = Сообщения участника { $member } скрыты участником { $name } ({ $n })
net-history-unexpected = { $name }: прислана история, которой этот участник не ждал (её может прислать только тот, кто вас принял, и только сразу после этого)
net-request-no-such = { $face ->
    [chat] заявки на вступление «{ $query }» нет (см. /requests)
   *[other] заявки на вступление «{ $query }» нет (см. kith requests)
}
net-request-ambiguous = под «{ $query }» подходит несколько заявок ({ $n }); укажите номер или начало отпечатка
net-request-decided = другой администратор уже принял решение по этой заявке
net-request-secret-not-sealed = секрет этого приглашения не был зашифрован для вас

## Цикл чата и фонового процесса: что он сообщает на экран

net-live-relay-offline = { $relay }: нет связи. { $verdict }
net-live-failed = { $context }: { $why }
net-live-no-answer = { $context }: сервер не ответил ({ $why }). Попробуйте снова, когда связь появится.
net-live-subscribing = подписка на группу
net-live-connecting = подключение
net-live-sending = отправка
net-live-joining = вступление в группу
net-live-joining-group = вступление в группу «{ $group }»
net-live-verify = проверка
net-live-leave = выход из группы
net-live-reading-history = чтение истории
net-live-no-group = вы не состоите ни в одной группе
net-live-goes-on-at = Группа «{ $group }» теперь работает через сервер { $relay }.
net-live-joined = Вы вступили в группу «{ $group }».
net-live-send-unconfirmed = сервер не ответил: возможно, сообщение уже дошло до группы — тогда оно появится здесь, когда чат снова будет на связи; проверьте, прежде чем отправлять его снова
net-live-send-unknown = сервер не ответил; сообщение могло уйти, а могло и не уйти
net-live-held = Не отправлено, ждёт, пока группу восстановят: { $why }
net-live-no-invite = Приглашение не создано
net-live-nobody-removed = Никто не исключён
net-live-not-removed = Участник { $name } не исключён
net-live-removed-hidden = Участник { $name } исключён из группы, его сообщения скрыты.
net-live-removed = Участник { $name } исключён из группы.
net-live-nothing-pinned = Ничего не закреплено
net-live-pinned = Запись [{ $id }] «{ $title }» закреплена на доске.
net-live-entry-not-changed = Запись [{ $id }] на доске не изменена
net-live-entry-edited = Запись [{ $id }] на доске изменена.
net-live-entry-not-removed = Запись [{ $id }] не убрана с доски
net-live-entry-removed = Запись [{ $id }] убрана с доски.
net-live-file-not-sent = Файл { $name } не отправлен
net-live-file-sent = Файл { $name } отправлен.
net-live-no-files = В этой группе нет файлов.
net-live-file-item = { $number }. { $name } ({ $size }, { $sender })
net-live-files = Файлы: { $list } · /get НОМЕР сохраняет файл
net-live-files-failed = Не удалось показать список файлов
net-live-nothing-saved = Ничего не сохранено
net-live-file-saved = Файл { $name } ({ $size }) сохранён: { $path }
net-live-nobody-promoted = Никто не назначен администратором
net-live-not-promoted = Участник { $name } не назначен администратором
net-live-promoted = Участник { $name } теперь администратор.
net-live-nobody-demoted = Права администратора ни с кого не сняты
net-live-not-demoted = Участник { $name } остаётся администратором
net-live-demoted = Участник { $name } больше не администратор.
net-live-nobody-approved = Ни одна заявка не одобрена
net-live-approved = { $name }: заявка одобрена, участника добавляют в группу.
net-live-nobody-denied = Ни одна заявка не отклонена
net-live-denied = { $name }: заявка отклонена, приглашение закрыто.
net-live-not-deleted = Сообщение не удалено
net-live-deleted = Сообщение удалено у всех.
net-live-settings-unchanged = Настройки не изменены
net-live-disappear-off = Исчезающие сообщения выключены.
net-live-disappear-on = Теперь сообщения исчезают после отправки; срок: { $after }.
net-live-history-off = Новые участники не получают прежних сообщений.
net-live-history-on = { $n ->
    [one] Теперь новые участники получают { $n } последнее сообщение.
    [few] Теперь новые участники получают { $n } последних сообщения.
   *[many] Теперь новые участники получают { $n } последних сообщений.
}
net-live-dropped-held = { $n ->
    [one] Удалено { $n } задержанное сообщение.
    [few] Удалено { $n } задержанных сообщения.
   *[many] Удалено { $n } задержанных сообщений.
}
net-live-marked-verified = Участник { $name } отмечен как проверенный.
net-live-left = Вы вышли из группы.

## Локальное хранилище

net-store-no-profile = здесь нет профиля Kith (нет файла { $file })
net-store-profile-exists = профиль Kith здесь уже есть
net-store-wrong-passphrase = неверный пароль
net-store-in-use = этот профиль уже открыт в другой программе Kith (его база данных заблокирована); сначала закройте ту программу
net-store-corrupt = локальное хранилище повреждено: { $what }
net-store-unknown-version = у файла { $file } версия формата { $version }, которую эта версия Kith не знает
net-store-too-large = значение слишком велико для локального хранилища
net-store-kdf = не удалось получить ключ из пароля: { $why }
net-store-serde = не удалось прочитать или записать сохранённое значение: { $why }
net-store-io = ошибка ввода-вывода в локальном хранилище: { $why }
net-store-db = ошибка базы данных: { $why }
net-store-poisoned = несохранённые изменения хранилища непригодны после внутреннего сбоя; их нужно отменить
net-store-too-many-buckets = у исчезающих записей слишком много разных сроков

## Зашифрованные приглашения и содержимое сообщений

net-seal-invalid = зашифрованные данные повреждены или предназначены не для этого приглашения
net-seal-too-large = слишком много данных для шифрования
net-payload-too-large = сообщение слишком длинное
net-payload-malformed = сообщение повреждено
