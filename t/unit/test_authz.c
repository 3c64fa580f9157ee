/* authz: where a Require line sits (how many negations), and the answer a
 * provider gives mod_authz_core for what it found. A missing or unknown
 * claim must never satisfy `Require not ...` (issue 9). */
#include "unit.h"
#include "../../src/authz.h"

#include <apr_strings.h>

/* A node of a configuration tree, child of `parent` (NULL: top level). */
static ap_directive_t *node(apr_pool_t *p, ap_directive_t *parent, const char *directive,
                            const char *args)
{
    ap_directive_t *d = apr_pcalloc(p, sizeof(*d));

    d->directive = directive;
    d->args = args;
    d->parent = parent;
    if (parent) {
        ap_directive_t **at = &parent->first_child;
        while (*at)
            at = &(*at)->next;
        *at = d;
    }
    return d;
}

/* The context of a Require line under the containers `path` (outermost
 * first, NULL-terminated), below <VirtualHost> and <Location>. */
static entra_authz_context context_under(apr_pool_t *p, const char *const *path, int require_not)
{
    ap_directive_t *up = node(p, NULL, "<VirtualHost", "x>");

    up = node(p, up, "<Location", "/app>");
    for (; *path; path++)
        up = node(p, up, *path, ">");
    return entra_authz_context_of(node(p, up, "Require", "entra-group x"), require_not);
}

static void test_context(apr_pool_t *p)
{
    static const struct {
        const char *path[4];
        int require_not;
        entra_authz_context want;
        const char *what;
    } cases[] = {
        { { NULL }, 0, ENTRA_AUTHZ_PLAIN, "Require at the top" },
        { { "<RequireAll", NULL }, 0, ENTRA_AUTHZ_PLAIN, "<RequireAll> Require" },
        { { "<RequireAll", NULL }, 1, ENTRA_AUTHZ_NEGATED, "<RequireAll> Require not" },
        { { "<RequireAny", "<RequireAll", NULL }, 1, ENTRA_AUTHZ_NEGATED,
          "<RequireAny><RequireAll> Require not" },
        { { "<RequireAll", "<RequireNone", NULL }, 0, ENTRA_AUTHZ_NEGATED,
          "<RequireAll><RequireNone> Require" },
        { { "<RequireAll", "<RequireNone", "<RequireAll", NULL }, 1, ENTRA_AUTHZ_PLAIN,
          "<RequireNone><RequireAll> Require not (two negations)" },
        { { "<RequireAll", "<RequireNotAll", NULL }, 0, ENTRA_AUTHZ_NEGATED,
          "<RequireAll><RequireNotAll> Require" },
        { { "<RequireAll", "<RequireNone", "<RequireAny", NULL }, 0, ENTRA_AUTHZ_NEGATED,
          "<RequireNone><RequireAny> Require" },
        { { "<RequireAll", "<RequireNone", "<RequireNone", NULL }, 0, ENTRA_AUTHZ_PLAIN,
          "<RequireNone><RequireNone> Require" },
        { { "<RequireAll", "<RequireNone", "<RequireNotAll", NULL }, 1, ENTRA_AUTHZ_NEGATED,
          "<RequireNone><RequireNotAll> Require not (three)" },
        { { "<requirenone", NULL }, 0, ENTRA_AUTHZ_NEGATED, "<requirenone> in lower case" },
        { { "<Limit", "<RequireNone", NULL }, 0, ENTRA_AUTHZ_NEGATED,
          "<Limit GET><RequireNone> Require" },
        { { "<If", "<RequireAll", NULL }, 1, ENTRA_AUTHZ_NEGATED, "<If><RequireAll> Require not" },
        { { "<AuthzProviderAlias", NULL }, 0, ENTRA_AUTHZ_UNKNOWN,
          "a Require inside <AuthzProviderAlias>" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(context_under(p, cases[i].path, cases[i].require_not) == cases[i].want,
              "context: %s", cases[i].what);

    CHECK(entra_authz_context_of(NULL, 0) == ENTRA_AUTHZ_UNKNOWN, "context: no directive");
    CHECK(entra_authz_context_of(node(p, NULL, "<AuthzProviderAlias", "entra-group a x>"), 0)
          == ENTRA_AUTHZ_UNKNOWN, "context: the <AuthzProviderAlias> directive itself");
    CHECK(entra_authz_context_of(node(p, NULL, "require", "not entra-group x"), 1)
          == ENTRA_AUTHZ_NEGATED, "context: 'require' in lower case");
}

static void test_answer(apr_pool_t *p)
{
    /* known values: as they are, whatever the context */
    CHECK(entra_authz_answer(ENTRA_CLAIM_MATCH, ENTRA_AUTHZ_PLAIN) == AUTHZ_GRANTED,
          "answer: match, plain: granted");
    CHECK(entra_authz_answer(ENTRA_CLAIM_MATCH, ENTRA_AUTHZ_NEGATED) == AUTHZ_GRANTED,
          "answer: match, negated: granted (the negation denies)");
    CHECK(entra_authz_answer(ENTRA_CLAIM_MATCH, ENTRA_AUTHZ_UNKNOWN) == AUTHZ_GRANTED,
          "answer: match, context unknown: granted");
    CHECK(entra_authz_answer(ENTRA_CLAIM_NO_MATCH, ENTRA_AUTHZ_PLAIN) == AUTHZ_DENIED,
          "answer: no match, plain: denied");
    CHECK(entra_authz_answer(ENTRA_CLAIM_NO_MATCH, ENTRA_AUTHZ_NEGATED) == AUTHZ_DENIED,
          "answer: no match, negated: denied (the negation makes it neutral: a pass)");
    CHECK(entra_authz_answer(ENTRA_CLAIM_NO_MATCH, ENTRA_AUTHZ_UNKNOWN) == AUTHZ_DENIED,
          "answer: no match, context unknown: denied");
    /* missing or unknown: a denial of the line, after the negation too */
    CHECK(entra_authz_answer(ENTRA_CLAIM_UNKNOWN, ENTRA_AUTHZ_PLAIN) == AUTHZ_DENIED,
          "answer: unknown, plain: denied");
    CHECK(entra_authz_answer(ENTRA_CLAIM_UNKNOWN, ENTRA_AUTHZ_NEGATED) == AUTHZ_GRANTED,
          "answer: unknown, negated: granted, which the negation turns into denied");
    CHECK(entra_authz_answer(ENTRA_CLAIM_UNKNOWN, ENTRA_AUTHZ_UNKNOWN) == AUTHZ_GENERAL_ERROR,
          "answer: unknown, context unknown: an error, which no negation turns into a pass");
}

void suite_authz(apr_pool_t *p)
{
    test_context(p);
    test_answer(p);
}
