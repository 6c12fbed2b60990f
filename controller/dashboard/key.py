"""The dashboard's signing key, which signs its one-time login links.

``controller.secret_key`` when set; else one key generated once and kept in AWS
Secrets Manager as ``controller.secret_name`` (the stack makes that secret; on
embedded AWS the first controller that needs it does), so every controller signs
and checks links alike. Never in the credentials table: one read of that table
must not be enough to sign in. Controllers before this one kept the key there;
it is deleted on first use, so nothing signed with it is trusted again.
"""

from __future__ import annotations

import logging
import secrets

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code
from edgecloud.config import Settings
from edgecloud.credentials import OLD_DASHBOARD_KEY

log = logging.getLogger(__name__)


def signing_key(settings: Settings, aws: Aws) -> str:
    key = settings.controller.secret_key or stored_key(aws, settings.controller.secret_name)
    forget_old_key(aws, settings.tables.credentials)
    return key


def stored_key(aws: Aws, name: str) -> str:
    """The key in Secrets Manager, made by whichever controller asks first."""
    store = aws.secretsmanager
    try:
        return store.get_secret_value(SecretId=name)["SecretString"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
    try:
        store.create_secret(
            Name=name,
            SecretString=secrets.token_urlsafe(48),
            Description="edgecloud: signs the dashboard's one-time login links",
        )
    except ClientError as err:
        if error_code(err) != "ResourceExistsException":  # another controller made it first: use theirs
            raise
    return store.get_secret_value(SecretId=name)["SecretString"]


def forget_old_key(aws: Aws, credentials_table: str) -> None:
    try:
        aws.dynamodb.delete_item(TableName=credentials_table, Key=OLD_DASHBOARD_KEY)
    except ClientError as err:  # a leftover to tidy, not a reason to refuse a login
        log.warning("could not delete the old dashboard key from %s: %s", credentials_table, error_code(err))
