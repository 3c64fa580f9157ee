/* A browser's login attempts: the state cookies (one an attempt, named
 * for its state, only for the callback path) and the small index of them
 * that keeps their sum within what the callback's Cookie header may hold
 * (see attempts.h). */
#include "attempts.h"
#include "respond.h"
#include "state.h"
#include "util.h"

#include <apr_strings.h>
#include <string.h>

/* State cookies go only to the callback path. form_post brings the code
 * back in a cross-site POST, which a SameSite=Lax cookie would miss. */
void entra_state_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                            const char *value, int max_age)
{
    if (entra_conf_response_mode(sc) == ENTRA_MODE_FORM_POST)
        entra_cookie_set_cross_site(r, sc, name, value, entra_redirect_uri_path(sc), max_age);
    else
        entra_cookie_set(r, sc, name, value, entra_redirect_uri_path(sc), max_age);
}

const char *entra_handover_cookie_name(apr_pool_t *p, const entra_server_conf *sc,
                                       const char *state)
{
    return apr_pstrcat(p, sc->state_cookie_prefix, "handover.", state, NULL);
}

/* Lax: it has to come back on the same-site GET it was set for, and no
 * cross-site request needs it. */
void entra_handover_cookie_set(request_rec *r, const entra_server_conf *sc, const char *state,
                               const char *value, int max_age)
{
    entra_cookie_set(r, sc, entra_handover_cookie_name(r->pool, sc, state), value,
                     entra_redirect_uri_path(sc), max_age);
}

/* Pending sign-ins of this browser, oldest first, in a small Path=/ cookie
 * (<session cookie>_pending, "state.size.expires~..."). The state cookies
 * themselves go only to the callback path, where a login start cannot see
 * them; this index lets it drop the oldest, so that together they stay
 * within STATE_BUDGET bytes of the callback's Cookie header however often
 * a browser starts over (httpd refuses a header past LimitRequestFieldSize,
 * and the user could never finish a sign-in again). */
#define STATE_BUDGET 4096
#define PENDING_MAX 12

typedef struct {
    const char *state;
    apr_int64_t size;       /* bytes the state cookie adds to a Cookie header */
    apr_int64_t expires;
} pending_login;

static const char *pending_cookie_name(apr_pool_t *p, const entra_server_conf *sc)
{
    return apr_pstrcat(p, sc->session_cookie, "_pending", NULL);
}

const char *entra_state_cookie_name(apr_pool_t *p, const entra_server_conf *sc,
                                    const char *state)
{
    return apr_pstrcat(p, sc->state_cookie_prefix, state, NULL);
}

/* The index as the browser sent it, without entries that are malformed or
 * expired. It only decides which of the browser's own cookies to delete:
 * nothing in it is trusted beyond that. */
static apr_array_header_t *pending_read(request_rec *r, const entra_server_conf *sc,
                                        const apr_table_t *sent, apr_int64_t now)
{
    apr_array_header_t *pending = apr_array_make(r->pool, PENDING_MAX, sizeof(pending_login));
    const char *value = entra_cookie_get(r->pool, sent, pending_cookie_name(r->pool, sc));
    char *list = apr_pstrdup(r->pool, value ? value : ""), *rest, *entry;

    for (entry = apr_strtok(list, "~", &rest); entry && pending->nelts < PENDING_MAX;
         entry = apr_strtok(NULL, "~", &rest)) {
        char *fields, *state = apr_strtok(entry, ".", &fields);
        char *size = apr_strtok(NULL, ".", &fields), *expires = apr_strtok(NULL, ".", &fields);
        pending_login *e;
        if (!entra_state_param_ok(state) || entra_parse_int(size) < 0
            || entra_parse_int(expires) < now)
            continue;
        e = apr_array_push(pending);
        e->state = state;
        /* bounded: the sum below must not overflow, whatever was sent */
        e->size = entra_parse_int(size) > STATE_BUDGET ? STATE_BUDGET : entra_parse_int(size);
        e->expires = entra_parse_int(expires);
    }
    return pending;
}

static void pending_write(request_rec *r, const entra_server_conf *sc,
                          const apr_array_header_t *pending, int first)
{
    const char *value = "";
    int i;

    for (i = first; i < pending->nelts; i++) {
        const pending_login *e = &APR_ARRAY_IDX(pending, i, pending_login);
        value = apr_psprintf(r->pool, "%s%s%s.%" APR_INT64_T_FMT ".%" APR_INT64_T_FMT, value,
                             *value ? "~" : "", e->state, e->size, e->expires);
    }
    entra_cookie_set(r, sc, pending_cookie_name(r->pool, sc), value, "/",
                     *value ? ENTRA_STATE_TTL : 0);
}

/* The bytes the callback's Cookie header may give the state cookies: at
 * most STATE_BUDGET, less what the browser sends besides them: the site's
 * own cookies, and a step-up's session cookies and pending index (a
 * sign-in's old session cookies are deleted by now), so that the whole
 * header stays within LimitRequestFieldSize. */
static apr_int64_t state_budget(request_rec *r, const entra_server_conf *sc,
                                const apr_table_t *sent, int session_stays)
{
    const char *sign_in[] = { sc->state_cookie_prefix, sc->session_cookie, NULL };
    const char *step_up[] = { sc->state_cookie_prefix, NULL };
    const apr_array_header_t *headers = apr_table_elts(sent);
    apr_int64_t others = 0, budget;
    int i, removed = 0;

    for (i = 0; i < headers->nelts; i++) {
        const apr_table_entry_t *h = &APR_ARRAY_IDX(headers, i, apr_table_entry_t);
        if (h->key && strcasecmp(h->key, "Cookie") == 0 && h->val)
            others += (apr_int64_t)strlen(entra_cookie_header_strip(
                          r->pool, h->val, session_stays ? step_up : sign_in, &removed)) + 2;
    }
    budget = r->server->limit_req_fieldsize - others - 512;
    return budget > STATE_BUDGET ? STATE_BUDGET : budget;
}

/* Makes room for a state cookie of `size` bytes: the oldest pending
 * sign-ins go first. Returns the index with the new one last. */
void entra_pending_add(request_rec *r, const entra_server_conf *sc, const apr_table_t *sent,
                       int session_stays, const char *state, apr_int64_t size,
                       apr_int64_t now)
{
    apr_array_header_t *pending = pending_read(r, sc, sent, now);
    apr_int64_t total = size, budget = state_budget(r, sc, sent, session_stays);
    pending_login *e;
    int i, first = 0;

    for (i = 0; i < pending->nelts; i++)
        total += APR_ARRAY_IDX(pending, i, pending_login).size;
    while (first < pending->nelts
           && (total > budget || pending->nelts - first >= PENDING_MAX)) {
        e = &APR_ARRAY_IDX(pending, first, pending_login);
        entra_state_cookie_set(r, sc, entra_state_cookie_name(r->pool, sc, e->state), "", 0);
        total -= e->size;
        first++;
    }
    e = apr_array_push(pending);
    e->state = state;
    e->size = size;
    e->expires = now + ENTRA_STATE_TTL;
    pending_write(r, sc, pending, first);
}

/* The callback took `state`: it leaves the index. */
void entra_pending_remove(request_rec *r, const entra_server_conf *sc, const char *state)
{
    apr_array_header_t *pending, *kept;
    int i;

    /* A form_post callback is a cross-site POST: the SameSite=Lax index
     * does not come with it, and must not be wiped for the other tabs. */
    if (!entra_cookie_get(r->pool, r->headers_in, pending_cookie_name(r->pool, sc)))
        return;
    pending = pending_read(r, sc, r->headers_in, apr_time_sec(r->request_time));
    kept = apr_array_make(r->pool, pending->nelts, sizeof(pending_login));

    for (i = 0; i < pending->nelts; i++) {
        const pending_login *e = &APR_ARRAY_IDX(pending, i, pending_login);
        if (strcmp(e->state, state) != 0)
            *(pending_login *)apr_array_push(kept) = *e;
    }
    pending_write(r, sc, kept, 0);
}
