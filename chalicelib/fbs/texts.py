"""Alert texts of the FBS flow, added to the shared `chalicelib.alerts.MESSAGES` on import."""

from __future__ import annotations

from chalicelib.alerts import MESSAGES

FBS_MESSAGES = {
    "fbs_ship_by": {
        "ru": "Отправление {posting} не собрано, а отгрузить его нужно до {deadline} ({zone}), через {hours} ч. "
              "Соберите и упакуйте его.",
        "en": "Posting {posting} is not packed and must ship by {deadline} ({zone}), in {hours} h. Pack it.",
    },
    "fbs_ship_failed": {
        "ru": "Ozon не принял сборку отправления {posting} ({detail}). Проверьте отправление в личном кабинете.",
        "en": "Ozon did not accept packing of posting {posting} ({detail}). Check the posting in the cabinet.",
    },
    "fbs_label_failed": {
        "ru": "Этикетку отправления {posting} получить не удалось: {detail}. Повторим при следующей проверке.",
        "en": "The label of posting {posting} could not be fetched: {detail}. It is retried at the next poll.",
    },
}

for _kind, _texts in FBS_MESSAGES.items():
    MESSAGES.setdefault(_kind, _texts)
