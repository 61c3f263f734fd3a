"""Piccolo app for orders and the order pipeline (one copy per tenant schema)."""

import os

from piccolo.conf.apps import AppConfig

from app.orders.tables import (
    Order,
    OrderImport,
    OrderItem,
    OrderMessage,
    OrderNotification,
    OrderPayment,
    OrderStatus,
    OrderStatusChange,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="orders",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[OrderStatus, Order, OrderItem, OrderPayment, OrderStatusChange, OrderMessage,
                   OrderNotification, OrderImport],
    migration_dependencies=["app.contacts.piccolo_app"],
    commands=[],
)
