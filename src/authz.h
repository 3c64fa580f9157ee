/* Require providers over the signed-in user's claims:
 *   Require entra-role <app role> [...]     the `roles` claim
 *   Require entra-group <group object id> [...]
 *   Require entra-tenant <tid> [...]
 *   Require entra-claim <name>:<value> [...]
 *   Require entra-scope <scope> [...]        the scp claim of a bearer token
 *   Require entra-acrs <c1..c99> [...]       the acrs claim (authentication
 *                                            contexts); a plain line not met
 *                                            starts a step-up (stepup.h)
 * Each line grants when any listed value matches; combine lines with
 * <RequireAll>/<RequireAny>. A denial names what was missing on the 403 page.
 *
 * Fail closed, negation included: a claim that is missing or unknown (groups
 * overage that Graph did not resolve) never satisfies `Require not ...`. The
 * pure part of that rule lives here, so the C unit tests can reach it. */
#ifndef ENTRA_AUTHZ_H
#define ENTRA_AUTHZ_H

#include <apr_pools.h>
#include <httpd.h>
#include <util_cfgtree.h>
#include <mod_auth.h>
#include <strings.h>

void entra_authz_register(apr_pool_t *p);

/* Where a Require line sits, found once at start-up. mod_authz_core turns a
 * negated GRANTED into DENIED and a negated DENIED into NEUTRAL, which an
 * enclosing <RequireAll> ignores: a provider that answers DENIED for "don't
 * know" would let the user through a negation. */
typedef enum {
    ENTRA_AUTHZ_PLAIN = 0,   /* an even number of negations: the answer counts as given */
    ENTRA_AUTHZ_NEGATED,     /* an odd number: mod_authz_core inverts the answer */
    ENTRA_AUTHZ_UNKNOWN      /* not found (<AuthzProviderAlias>): it may be either */
} entra_authz_context;

/* What a provider found in the claims. */
typedef enum {
    ENTRA_CLAIM_MATCH,       /* the claim is there and holds a listed value */
    ENTRA_CLAIM_NO_MATCH,    /* the claim is there and holds none of them */
    ENTRA_CLAIM_UNKNOWN      /* the claim is missing, or its value is unknown */
} entra_claim_outcome;

/* The context of the Require directive `require` (cmd->directive when the
 * provider's parse_require_line runs); `require_not` is whether the line itself
 * says `Require not`. Every enclosing <RequireNone> / <RequireNotAll> (the
 * latter only in an httpd built with AUTHZ_EXTRA_CONFIGS) flips it;
 * <RequireAll> / <RequireAny> do not. Directives in between that are not
 * authz containers are skipped: <If>, <Limit> and the scope containers cannot
 * sit inside a <Require*> (NOT_IN_LIMIT), and <IfModule>, <IfDefine>,
 * Include ... leave no node or a transparent one. A line that is not a
 * Require directive, or one inside <AuthzProviderAlias> (whose provider is
 * then used by `Require [not] <alias>` anywhere), is UNKNOWN. */
static inline entra_authz_context entra_authz_context_of(const ap_directive_t *require,
                                                         int require_not)
{
    const ap_directive_t *up;
    int negated = !!require_not;

    if (!require || !require->directive || strcasecmp(require->directive, "Require") != 0)
        return ENTRA_AUTHZ_UNKNOWN;
    for (up = require->parent; up; up = up->parent) {
        if (!up->directive)
            continue;
        if (strcasecmp(up->directive, "<RequireNone") == 0
            || strcasecmp(up->directive, "<RequireNotAll") == 0)
            negated = !negated;
        else if (strcasecmp(up->directive, "<AuthzProviderAlias") == 0)
            return ENTRA_AUTHZ_UNKNOWN;
    }
    return negated ? ENTRA_AUTHZ_NEGATED : ENTRA_AUTHZ_PLAIN;
}

/* The provider's answer to mod_authz_core. A known claim answers as it is
 * (the negation, if any, inverts it as the administrator wrote). A missing
 * or unknown claim must end as a denial of this line:
 *  - plain: DENIED;
 *  - negated: GRANTED, which the negation turns into DENIED;
 *  - unknown context: AUTHZ_GENERAL_ERROR, the one answer no negation turns
 *    into a pass (mod_authz_core stops and answers 500).
 * Why not AUTHZ_GENERAL_ERROR always: it ends the whole evaluation, so a
 * <RequireAny> alternative that would let the user in (Require ip ..., a
 * role) is never asked, and the user gets a 500 "server error" for what is
 * an access decision (403 with the page that says why). */
static inline authz_status entra_authz_answer(entra_claim_outcome found,
                                              entra_authz_context context)
{
    switch (found) {
    case ENTRA_CLAIM_MATCH:
        return AUTHZ_GRANTED;
    case ENTRA_CLAIM_NO_MATCH:
        return AUTHZ_DENIED;
    default:
        break;
    }
    switch (context) {
    case ENTRA_AUTHZ_PLAIN:
        return AUTHZ_DENIED;
    case ENTRA_AUTHZ_NEGATED:
        return AUTHZ_GRANTED;
    default:
        return AUTHZ_GENERAL_ERROR;
    }
}

#endif
