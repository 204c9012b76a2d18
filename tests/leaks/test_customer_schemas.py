"""What is not declared cannot be serialised: the customer schemas, and every model nested in
them, declare no staff-only field (docs/architecture.md §4, docs/style.md "Permissions")."""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing

import pytest
from pydantic import BaseModel

import ticketry
from tests.factories import STAFF_ONLY_KEYS


def _customer_schemas() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module_info in pkgutil.walk_packages(ticketry.__path__, "ticketry."):
        if not module_info.name.endswith(".schemas"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseModel) and "Customer" in name:
                found[f"{value.__module__}.{name}"] = value
    return [found[key] for key in sorted(found)]


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [model for arg in typing.get_args(annotation) for model in _nested_models(arg)]
    return []


def _declared_keys(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> dict[str, str]:
    """Every serialised key (alias) reachable from the model, mapped to where it is declared."""
    seen = seen if seen is not None else set()
    if model in seen:
        return {}
    seen.add(model)
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        keys[field.serialization_alias or field.alias or name] = f"{model.__name__}.{name}"
        for nested in _nested_models(field.annotation):
            keys |= _declared_keys(nested, seen)
    return keys


CUSTOMER_SCHEMAS = _customer_schemas()


def test_the_customer_schemas_are_found() -> None:
    names = {schema.__name__ for schema in CUSTOMER_SCHEMAS}
    assert {
        "TicketCustomerView",
        "TicketCustomerListItem",
        "MessageCustomerView",
        "TicketEventCustomerView",
    } <= names


@pytest.mark.parametrize("schema", CUSTOMER_SCHEMAS, ids=lambda s: s.__name__)
def test_customer_schema_declares_no_staff_only_field(schema: type[BaseModel]) -> None:
    declared = _declared_keys(schema)
    assert {key: where for key, where in declared.items() if key in STAFF_ONLY_KEYS} == {}


def test_the_staff_schemas_do_declare_them() -> None:
    """Control: the key names checked above are the ones the staff schemas really use."""
    from ticketry.history.schemas import TicketEventStaffView
    from ticketry.messages.schemas import MessageStaffView
    from ticketry.tickets.schemas import TicketStaffView

    declared = set(_declared_keys(TicketStaffView)) | set(_declared_keys(MessageStaffView))
    declared |= set(_declared_keys(TicketEventStaffView))
    assert {
        "assignee",
        "tags",
        "viewCount",
        "statusReason",
        "isInternal",
        "createdById",
        "reason",
    } <= declared
