"""Runs the billing schedule in a process of its own (``python -m runtime bill-on-schedule``;
``runtime all`` starts it when ``BILLING_SCHEDULE`` is set).

Every ``SCHEDULE_CHECK_S`` it asks ``bill_on_schedule`` whether a tick is due: a tick's
runs start within that many seconds of it. Kafka or S3 being unavailable is logged and tried
again at the next check: the tick stays due, and its runs' identity keeps it to one.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from functions.context import utc_now
from functions.coordinator import Coordination
from functions.errors import BillingError, ConfigurationError
from functions.scheduled_billing import ScheduledBilling, bill_on_schedule
from runtime.config import FunctionSettings
from runtime.services import Publisher, Services
from runtime.triggers import SCHEDULER

log = logging.getLogger(__name__)

FUNCTION = SCHEDULER


def scheduled_billing(services: Services, publisher: Publisher) -> ScheduledBilling:
    schedule = services.settings.schedule()
    if schedule is None:
        raise ConfigurationError(
            f"{FUNCTION} needs BILLING_SCHEDULE, a cron expression such as '0 6 1 * *'"
        )
    return ScheduledBilling(
        schedule, Coordination(publisher.publish, services.run_records), services.seeded_customers()
    )


def run_scheduler(settings: FunctionSettings, services: Services, stop: threading.Event) -> None:
    """Check the schedule until ``stop`` is set (``runtime.stopping.stop_event``)."""
    from runtime.kafka.publisher import KafkaPublisher

    publisher = KafkaPublisher(settings, role=FUNCTION)
    billing = scheduled_billing(services, publisher)
    upcoming = billing.schedule.upcoming(utc_now(), 1)[0]
    log.info(
        "%s: %s in %s, next tick %s",
        FUNCTION,
        billing.schedule.expression,
        billing.schedule.zone.key,
        upcoming.isoformat(),
    )
    handled: datetime | None = None
    while True:
        try:
            handled = bill_on_schedule(utc_now(), billing, handled)
        except BillingError as exc:
            log.error("%s: %s; trying again in %.0fs", FUNCTION, exc, settings.schedule_check_s)
        if stop.wait(settings.schedule_check_s):
            break
    publisher.close()
