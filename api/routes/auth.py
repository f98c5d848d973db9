"""Sign-up, e-mail verification, sign-in (OAuth2 password flow), renewal, sign-out and
passwords. Failed sign-ins are throttled per address and per client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.security import OAuth2PasswordRequestForm

from api import accounts
from api.account_schemas import (
    Account,
    Message,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RefreshIn,
    SignupIn,
    TokenPair,
)
from api.db import fetch_one
from api.deps import DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.mail import public_url, send_mail
from api.security import throttle
from api.security.access import Principal
from api.security.policy import Anyone, SignedIn, signing_key

router = APIRouter(prefix="/auth", tags=["accounts"])
Me = Annotated[Principal, Depends(SignedIn())]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/signup",
    status_code=201,
    response_model=Account,
    summary="Create an account; a verification link goes to the address",
    dependencies=[Depends(Anyone())],
    responses=error_responses(409, 422, 429),
)
async def signup(
    body: SignupIn, request: Request, conn: DbConn, settings: SettingsDep, tasks: BackgroundTasks
) -> dict:
    await throttle.limit(conn, f"signup:{_client(request)}", 3600, 20, "sign-ups from this address")
    account = await accounts.create_account(conn, body.email, body.password, body.display_name)
    await _send_verification(conn, settings, tasks, account["id"], account["email"])
    return account


async def _send_verification(conn, settings, tasks: BackgroundTasks, account_id: int, email: str):
    token = await accounts.issue_email_token(conn, settings, account_id, "verify")
    link = f"{public_url(settings)}/auth/verify-email?token={token}"
    tasks.add_task(
        send_mail,
        settings,
        email,
        "Confirm your bandhub address",
        f"Open this link to confirm that {email} is yours:\n\n{link}\n\n"
        f"It expires in {settings.auth_email_token_h:g} hours.",
    )


@router.get(
    "/verify-email",
    response_model=Message,
    summary="The link from the verification e-mail",
    dependencies=[Depends(Anyone())],
    responses=error_responses(404, 422),
)
async def verify_email(token: Annotated[str, Query(max_length=200)], conn: DbConn) -> dict:
    account_id = await accounts.use_email_token(conn, token, "verify")
    await conn.execute(
        "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, now()) WHERE id = %s",
        (account_id,),
    )
    return {"message": "Thank you: your e-mail address is confirmed."}


@router.post(
    "/verify-email/resend",
    status_code=202,
    response_model=Message,
    summary="Send the verification link again",
    responses=error_responses(401, 429),
)
async def resend_verification(
    me: Me, conn: DbConn, settings: SettingsDep, tasks: BackgroundTasks
) -> dict:
    await throttle.limit(conn, f"verify-mail:{me.account_id}", 3600, 5, "verification e-mails")
    if not me.email_verified:
        await _send_verification(conn, settings, tasks, me.account_id, me.email)
    return {"message": "If the address is not confirmed yet, a new link is on its way."}


@router.post(
    "/token",
    response_model=TokenPair,
    summary="Sign in (OAuth2 password flow: the e-mail is the username)",
    dependencies=[Depends(Anyone())],
    responses=error_responses(401, 422, 429),
)
async def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    conn: DbConn,
    settings: SettingsDep,
) -> dict:
    window, limit = settings.auth_login_window_s, settings.auth_login_max_failures
    keys = {f"login:{form.username.lower()}": limit, f"login-ip:{_client(request)}": limit * 4}
    for key, most in keys.items():
        failures, left = await throttle.current(conn, key, window)
        if failures >= most:
            raise throttle.too_many(left, "failed sign-ins")
    account = await accounts.authenticate(conn, form.username, form.password)
    if account is None:
        for key in keys:
            await throttle.count(conn, key, window)
        await conn.commit()
        raise ApiError(
            401,
            "bad_credentials",
            "wrong e-mail or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = await signing_key(request, conn)
    agent = request.headers.get("user-agent", "")
    return await accounts.start_session(conn, settings, key, account["id"], agent)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="A new access token (and a new refresh token) for a refresh token",
    dependencies=[Depends(Anyone())],
    responses=error_responses(401, 422),
)
async def refresh(body: RefreshIn, request: Request, conn: DbConn, settings: SettingsDep) -> dict:
    key = await signing_key(request, conn)
    return await accounts.renew_session(conn, settings, key, body.refresh_token)


@router.post(
    "/logout",
    status_code=204,
    summary="End this sign-in (or every sign-in of the account)",
    responses=error_responses(401, 422),
)
async def logout(me: Me, conn: DbConn, everywhere: Annotated[bool, Query()] = False) -> None:
    await accounts.revoke_sessions(conn, me.account_id, None if everywhere else me.session_id)


@router.get("/me", response_model=Account, summary="Your account", responses=error_responses(401))
async def me(me: Me, conn: DbConn) -> dict:
    return await fetch_one(
        conn, f"SELECT {accounts.ACCOUNT_COLUMNS} FROM accounts WHERE id = %s", (me.account_id,)
    )


@router.post(
    "/password",
    status_code=204,
    summary="Change your password; every sign-in ends",
    responses=error_responses(401, 403, 422),
)
async def change_password(body: PasswordChangeIn, me: Me, conn: DbConn) -> None:
    if await accounts.authenticate(conn, me.email, body.current_password) is None:
        raise ApiError(403, "bad_credentials", "the current password is wrong")
    await accounts.set_password(conn, me.account_id, body.new_password)


@router.post(
    "/password-reset",
    status_code=202,
    response_model=Message,
    summary="E-mail a password-reset link (the answer is the same for unknown addresses)",
    dependencies=[Depends(Anyone())],
    responses=error_responses(422, 429),
)
async def request_reset(
    body: PasswordResetIn,
    request: Request,
    conn: DbConn,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> dict:
    await throttle.limit(conn, f"reset:{_client(request)}", 3600, 10, "reset requests")
    row = await fetch_one(
        conn, "SELECT id, email FROM accounts WHERE lower(email) = lower(%s)", (body.email,)
    )
    if row is not None:
        token = await accounts.issue_email_token(conn, settings, row["id"], "reset")
        tasks.add_task(
            send_mail,
            settings,
            row["email"],
            "Reset your bandhub password",
            "Someone (hopefully you) asked to reset your password. Your reset code:\n\n"
            f"{token}\n\nUse it with POST {public_url(settings)}/auth/password-reset/confirm."
            f" It expires in {settings.auth_email_token_h:g} hours; if it was not you,"
            " ignore this message.",
        )
    return {"message": "If there is an account for this address, a reset link is on its way."}


@router.post(
    "/password-reset/confirm",
    status_code=204,
    summary="Set a new password with the code from the reset e-mail",
    dependencies=[Depends(Anyone())],
    responses=error_responses(404, 422),
)
async def confirm_reset(body: PasswordResetConfirmIn, conn: DbConn) -> None:
    account_id = await accounts.use_email_token(conn, body.token, "reset")
    await accounts.set_password(conn, account_id, body.new_password)
    # the link came through the mailbox: the address is proven
    await conn.execute(
        "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, now()) WHERE id = %s",
        (account_id,),
    )
