"""The orders domain's manifest: orders, their pipeline, imports, notifications and the customer portal."""

from __future__ import annotations

from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from app.orders import callbacks, events, jobs, live, notify, services
from app.orders.api import OrdersApi
from app.orders.imports_api import OrderImportsApi
from app.orders.imports_views import OrderImportViews
from app.orders.settings_views import OrderSettingsViews
from app.orders.socket import portal_socket
from app.orders.views import OrderViews, PortalViews
from realtime.durable import DurableListener

DOMAIN = Domain(
    name="orders",
    routes=(OrdersApi, OrderViews, PortalViews, portal_socket, OrderImportsApi, OrderImportViews,
            OrderSettingsViews),
    jobs={
        "orders.send_portal_link": JobSpec(jobs.send_portal_link),
        "orders.send_portal_sms": JobSpec(jobs.send_portal_sms),
        "orders.run_import": JobSpec(jobs.run_import),
        "orders.send_status_email": JobSpec(jobs.send_status_email),
    },
    listeners=(
        DurableListener("orders.status_notifier", notify.on_status_changed, frozenset({"order.status_changed"}),
                        "Emails the customer when their order reaches a status the shop chose."),
        DurableListener("orders.callback_line", callbacks.on_queue_changed, callbacks.QUEUE_EVENTS,
                        "Tells the portal of a customer with a waiting callback that their place in line moved."),
    ),
    renderers=(live.order_page,),
    console_extras=(live.console_callers,),
    merge_steps=(services.MERGE_STEP,),
    piccolo_app="app.orders.piccolo_app",
    events=events,
)
