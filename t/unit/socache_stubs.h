/* httpd's functions that src/socache.c calls, stubbed for the unit tests
 * that compile it in (test_socache.c, test_store_race.c): nothing is
 * logged but what each test's own ap_log_rerror_ counts, no provider is
 * looked up, and local stores get no mutex nor retained data. */
#ifndef ENTRA_UNIT_SOCACHE_STUBS_H
#define ENTRA_UNIT_SOCACHE_STUBS_H

void ap_log_error_(const char *file, int line, int module_index, int level,
                   apr_status_t status, const server_rec *s, const char *fmt, ...)
{
}

/* config.c's (the sanitized build compiles every core file) */
void ap_log_perror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, apr_pool_t *p, const char *fmt, ...)
{
}

void *ap_lookup_provider(const char *group, const char *name, const char *ver)
{
    return NULL;
}

apr_status_t ap_mutex_register(apr_pool_t *p, const char *type, const char *dir,
                               apr_lockmech_e mech, apr_int32_t options)
{
    return APR_SUCCESS;
}

apr_status_t ap_global_mutex_create(apr_global_mutex_t **mutex, const char **name,
                                    const char *type, const char *instance_id,
                                    server_rec *server, apr_pool_t *pool, apr_int32_t options)
{
    return APR_ENOTIMPL;
}

void *ap_retained_data_get(const char *key)
{
    return NULL;
}

void *ap_retained_data_create(const char *key, apr_size_t size)
{
    return NULL;
}

#endif
