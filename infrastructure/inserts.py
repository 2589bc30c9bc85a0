"""INSERTs for the ingress hot path, with the statement built once per model and database.

`Model.objects.create()` compiles its INSERT on every call; for a 25-column e-mail row that was a
third of the CPU a push cost. `row_insert` keeps what `save()` does for a new row (the pre_save and
post_save signals, field defaults, `pre_save` for auto_now fields, `get_db_prep_save` for JSON, UUIDs
and dates) and reuses the SQL text. It is for new rows of models with plain fields (no database
defaults or generated columns) and no multi-table inheritance.
"""

from typing import NamedTuple

from django.db import connections, router
from django.db.models import (
    NOT_PROVIDED,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    Field,
    IntegerField,
    Model,
    TextField,
)
from django.db.models.signals import post_save, pre_save

NONE_TYPE = type(None)


class _Column(NamedTuple):
    field: Field
    attname: str
    own_pre_save: bool  # auto_now and the like; otherwise the attribute is the value
    unchanged: frozenset[type]  # value types get_db_prep_save returns as they are


class _Statement(NamedTuple):
    sql: str
    columns: tuple[_Column, ...]
    returns_pk: bool


_statements: dict[tuple[str, type[Model], bool], _Statement] = {}


def _unchanged_types(field: Field) -> frozenset[type]:
    """Types whose values Django's own field classes store as they are.

    Preparing a value costs a chain of four calls per column; for the strings, booleans, integers and
    NULLs that make most of a row, that chain is the identity. Any subclass that overrides a step of it
    keeps the full preparation.
    """
    cls = type(field)
    if cls.get_db_prep_save is not Field.get_db_prep_save:
        return frozenset()
    # Most date columns of a new row are still empty (started, finished, last attempt…): NULL stays NULL.
    if (cls.get_db_prep_value, cls.get_prep_value, cls.to_python) in (
        (DateField.get_db_prep_value, DateField.get_prep_value, DateField.to_python),
        (DateTimeField.get_db_prep_value, DateTimeField.get_prep_value, DateTimeField.to_python),
    ):
        return frozenset({NONE_TYPE})
    if cls.get_db_prep_value is not Field.get_db_prep_value:
        return frozenset()
    if cls.get_prep_value in (CharField.get_prep_value, TextField.get_prep_value) and cls.to_python in (
        CharField.to_python,
        TextField.to_python,
    ):
        return frozenset({str, NONE_TYPE})
    if cls.get_prep_value is BooleanField.get_prep_value and cls.to_python is BooleanField.to_python:
        return frozenset({bool, NONE_TYPE})
    if cls.get_prep_value is IntegerField.get_prep_value:
        return frozenset({int, NONE_TYPE})
    return frozenset()


def _statement_build(model: type[Model], alias: str, pk_generated: bool) -> _Statement:
    meta = model._meta
    quote = connections[alias].ops.quote_name
    fields = [f for f in meta.local_concrete_fields if not (pk_generated and f is meta.auto_field)]
    for field in fields:
        if field.db_default is not NOT_PROVIDED or getattr(field, "generated", False):
            raise TypeError(f"row_insert does not handle {model.__name__}.{field.name} (database-side value)")
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields), ", ".join(["%s"] * len(fields))
    )
    if pk_generated:
        sql += f" RETURNING {quote(meta.pk.column)}"
    columns = tuple(
        _Column(f, f.attname, type(f).pre_save is not Field.pre_save, _unchanged_types(f)) for f in fields
    )
    return _Statement(sql, columns, pk_generated)


def _params(statement: _Statement, instance: Model, connection) -> list:
    params = []
    for field, attname, own_pre_save, unchanged in statement.columns:
        value = field.pre_save(instance, True) if own_pre_save else getattr(instance, attname)
        params.append(value if type(value) in unchanged else field.get_db_prep_save(value, connection))
    return params


def row_insert(instance: Model) -> Model:
    """INSERT a new, unsaved instance in the current transaction and set its primary key."""
    model = type(instance)
    alias = router.db_for_write(model, instance=instance)
    pk_generated = instance.pk is None and model._meta.auto_field is not None
    key = (alias, model, pk_generated)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = _statement_build(model, alias, pk_generated)
    if pre_save.has_listeners(model):
        pre_save.send(sender=model, instance=instance, raw=False, using=alias, update_fields=None)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, _params(statement, instance, connection))
        if statement.returns_pk:
            instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = alias
    if post_save.has_listeners(model):
        post_save.send(sender=model, instance=instance, created=True, update_fields=None, raw=False, using=alias)
    return instance
