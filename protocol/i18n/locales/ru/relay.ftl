# Сервер (kith-relay): что он говорит своему администратору: запуск, настройки, служебные
# команды (check, stats, gc, healthcheck). Журналы, записи --json и строки
# «kith-relay listening on» / «kith-relay metrics on» (их читают скрипты) сюда не входят.
# Переводчику: сохраняйте каждый id и каждую { $переменную }, меняйте всё остальное.
# Команды ({ $command }, { $stop }, { $metrics }, { $health }) остаются как есть.

## Запуск и сбои работающего сервера

relay-started-data = каталог данных сервера: { $path }
relay-docs-failed = не удалось записать справку в { $dir }: { $error }
relay-cannot-listen = не удаётся принимать соединения на { $addr }: { $error }
relay-cannot-listen-metrics = не удаётся открыть адрес для метрик { $addr }: { $error }
relay-disk-failed = диск не подтвердил запись ({ $error }). Сервер останавливается сейчас, чтобы при следующем запуске восстановить из журнала все сообщения, получение которых он уже подтвердил. Проверьте диск (свободное место, журнал ядра), затем снова запустите сервер.

## Настройки

relay-size-not-a-size = «{ $value }» — это не размер
relay-size-unknown-unit = неизвестная единица размера в «{ $value }» (используйте { $units })
relay-size-too-large = слишком большой размер: «{ $value }»
relay-metrics-listen-invalid = --metrics-listen: «{ $value }» — это не адрес (чтобы выключить метрики, укажите --metrics-listen off)
relay-secret-file-unreadable = файл с секретом для создания групп { $path }: { $error }
relay-secret-file-empty = файл с секретом для создания групп { $path } пуст
relay-config-file-bad = файл настроек { $path }: { $error }
relay-tls-cert-needs-key = --tls-cert указан без --tls-key: нужны оба файла, сертификат и ключ
relay-tls-key-needs-cert = --tls-key указан без --tls-cert: нужны оба файла, сертификат и ключ
relay-setting-not-positive = значение { $name } должно быть больше нуля
relay-max-group-bytes-too-small = --max-group-bytes должен вмещать хотя бы одно сообщение наибольшего размера (1 МиБ)
relay-max-invite-bytes-too-small = --max-invite-bytes должен вмещать хотя бы одну ячейку приглашения наибольшего размера (1 МиБ данных для вступления и 2 × 16 КиБ)
relay-outbox-bytes-too-small = --outbox-bytes должен вмещать хотя бы один кадр наибольшего размера (1,1 МиБ)

## Файлы TLS

relay-pem-no-block = нет блока PEM нужного вида
relay-pem-malformed = файл PEM повреждён
relay-tls-cert-file-bad = файл сертификата TLS { $path }: { $error }
relay-tls-cert-file-empty = файл сертификата TLS { $path }: в нём нет ни одного сертификата
relay-tls-key-file-bad = файл ключа TLS { $path }: { $error } (ожидался закрытый ключ в формате PEM)
relay-tls-config-failed = TLS: { $error }
relay-tls-pair-bad = сертификат TLS { $cert } и ключ { $key }: { $error }

## Каталог данных

relay-data-dir-missing = каталога данных { $path } нет (проверьте --data; сервер создаёт его при первом запуске)
relay-data-dir-unopenable = не удаётся открыть каталог данных { $path }: { $error }
# Сам сервер запущен на каталоге данных, который занят другим процессом.
relay-data-dir-locked = каталог данных { $path } занят другим процессом (сервер уже запущен? сначала остановите его, например: `{ $stop }`)
# Служебная команда на каталоге данных работающего сервера: что сделать вместо неё.
relay-stats-locked =
    каталог данных { $path } занят другим процессом — скорее всего, сервер запущен. Пока сервер работает, его каталог данных заблокирован, и `{ $command }` не может его прочитать.
    Те же итоги (кроме ячеек приглашений) работающий сервер показывает в своих метриках:
    {"  "}{ $metrics }
    Или сначала остановите сервер (например: `{ $stop }`), выполните `{ $command }` и снова запустите сервер.
relay-stats-locked-no-metrics =
    каталог данных { $path } занят другим процессом — скорее всего, сервер запущен. Пока сервер работает, его каталог данных заблокирован, и `{ $command }` не может его прочитать.
    Сначала остановите сервер (например: `{ $stop }`), выполните `{ $command }` и снова запустите сервер. (Если включить метрики, --metrics-listen, работающий сервер показывает те же итоги на /metrics.)
relay-gc-locked =
    каталог данных { $path } занят другим процессом — скорее всего, сервер запущен. Пока сервер работает, его каталог данных заблокирован, и `{ $command }` не может его открыть.
    Работающий сервер сам удаляет устаревшие данные: регулярно (интервал: { $interval }) и всякий раз, когда этого требует более короткий срок хранения какой-либо группы. Чтобы всё же выполнить очистку сейчас, сначала остановите сервер (например: `{ $stop }`), выполните `{ $command }` и снова запустите сервер.
relay-check-locked = занят другим процессом — скорее всего, сервер запущен. Пока сервер работает, его каталог данных заблокирован, и `{ $command }` не может его открыть: сначала остановите сервер (например: `{ $stop }`) или проверьте, отвечает ли работающий сервер: `{ $health }`
relay-not-writable = запись невозможна: { $error }

## kith-relay check

relay-check-settings-ok = настройки: в порядке
relay-check-tls-ok = TLS: в порядке (wss:// на { $addr }; сертификатов: { $n }, из { $cert }; ключ { $key })
relay-check-tls-failed = TLS: ОШИБКА: { $error }
relay-check-tls-off = TLS: выключен (простой ws:// на { $addr }; поставьте перед сервером обратный прокси с TLS)
relay-check-tls-off-public = TLS: выключен, ВНИМАНИЕ: простой ws:// на внешнем адресе { $addr } (клиентам нужен TLS: задайте --tls-cert и --tls-key или поставьте на этой машине обратный прокси с TLS)
relay-check-metrics-public = метрики: ВНИМАНИЕ: { $addr } — не локальный адрес; /metrics должен быть недоступен посторонним (закройте порт межсетевым экраном)
relay-check-metrics = метрики: { $addr }
relay-check-metrics-off = метрики: выключены
relay-check-creation-restricted = создание групп: только для тех, у кого есть секрет для создания групп
relay-check-creation-open = создание групп: открыто всем, кто может подключиться (чтобы ограничить, задайте --creation-secret-file)
relay-check-data-dir = каталог данных { $path }: { $status }
relay-check-data-dir-failed = каталог данных { $path }: ОШИБКА: { $error }
relay-check-data-dir-parent-failed = не существует; родительский каталог { $parent }: { $error }
relay-check-data-dir-will-be-created = ещё не существует; сервер создаст его при первом запуске (в родительский каталог можно писать)
relay-check-data-dir-not-a-dir = это не каталог
relay-check-data-dir-ok = в порядке, запись возможна (групп: { $groups })
relay-check-failed = проверка не пройдена: { $n ->
    [one] найдена { $n } проблема
    [few] найдено { $n } проблемы
   *[many] найдено { $n } проблем
}, см. выше
relay-check-passed = все проверки пройдены

## kith-relay stats (подписи дополнены пробелами, чтобы числа стояли в столбик)

relay-stats-groups = групп:              { $n }
relay-stats-messages = сообщений:          { $n }
relay-stats-bytes = байт в сообщениях:  { $n } ({ $size })
relay-stats-blobs = частей файлов:      { $n } ({ $size })
relay-stats-invite-slots = ячеек приглашений:  { $n } (истёкших: { $expired }; их удалит следующая очистка)

## kith-relay gc

relay-gc-removed = срок хранения { $retention }; удалено: сообщений — { $messages } ({ $size }), частей файлов — { $blobs } ({ $blob_size }), истёкших ячеек приглашений — { $slots }
relay-gc-left = осталось: групп — { $groups }, сообщений — { $messages } ({ $size }), ячеек приглашений — { $slots }

## kith-relay healthcheck

relay-healthcheck-ok = ок
relay-healthcheck-no-answer = нет ответа от { $addr } (время ожидания: { $timeout })
relay-healthcheck-failed = запрос /healthz к { $addr }: { $error }
relay-healthcheck-status = запрос /healthz к { $addr }: код ответа { $status }
relay-healthcheck-not-http = это не ответ веб-сервера

## Размеры больше МиБ из common.ftl

