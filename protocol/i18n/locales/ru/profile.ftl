# profile
# Профиль: создание, открытие, удаление, пароли; как сообщается об ошибке.

profile-error = kith: { $message }
profile-docs-failed = не удалось записать документацию в { $path }: { $error }

profile-none = в папке { $path } ещё нет профиля Kith.
    Чтобы создать профиль, выполните: kith init --name ИМЯ
    Если ваш профиль в другой папке, добавьте к команде --home ПАПКА
profile-none-doctor = в папке { $path } нет профиля Kith, а значит, нет и групп, серверы которых можно проверить: укажите адрес сервера или код приглашения (kith doctor АДРЕС)
profile-exists = в папке { $path } уже есть профиль Kith
profile-no-home-dir = не найдена домашняя папка; укажите папку профиля: --home ПАПКА (или KITH_HOME=ПАПКА)
profile-no-daemon = для этого профиля фоновый процесс не запущен

profile-prompt = Пароль:
profile-prompt-new = Пароль:
profile-prompt-new-again = Повторите пароль:
profile-prompt-changed = Новый пароль:
profile-prompt-changed-again = Повторите новый пароль:
profile-prompt-duress = Пароль под принуждением:
profile-prompt-duress-again = Повторите пароль под принуждением:
profile-no-passphrase = пароль не задан: укажите его в переменной окружения { $env } или запустите команду в терминале
profile-passphrases-differ = пароли не совпадают
profile-passphrase-too-short = пароль должен быть не короче { $n ->
    [one] { $n } символа
   *[other] { $n } символов
}

profile-created = Профиль создан в папке { $path }
    Имя:       { $name }
    Отпечаток: { $fingerprint }

profile-wipe-needs-yes = удалить профиль не из терминала можно только с --yes
profile-wipe-word = удалить
profile-wipe-confirm = Уничтожить профиль в папке { $path } навсегда, без возможности восстановления? Введите «{ $word }»:
profile-wipe-not-wiped = профиль не удалён
profile-wipe-none = в папке { $path } нет профиля Kith: удалять нечего
profile-wiped = Профиль уничтожен.

profile-duress-same = пароль под принуждением должен отличаться от вашего пароля
profile-duress-set = Пароль под принуждением задан. Если открыть профиль с ним, этот профиль будет безвозвратно уничтожен, а на его месте откроется пустой профиль с тем же именем.
profile-passphrase-changed = Пароль изменён.
