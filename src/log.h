/* Unique log ids, in the spirit of httpd's APLOGNO(): every line the module
 * writes starts with "ENTRAnnnnn: " so an administrator can grep for it.
 * Ranges: 001xx config, 002xx login/callback, 003xx provider/http,
 * 004xx session and claims, 005xx endpoints. */
#ifndef ENTRA_LOG_H
#define ENTRA_LOG_H

#define ENTRALOG(n) "ENTRA" #n ": "

#endif
