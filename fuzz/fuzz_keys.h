/* Fixed RSA-2048 test keys for the fuzz targets and their seed generator.
 * Made once (Python cryptography) and committed, so that the committed
 * seed tokens stay valid. They protect nothing: test material only. */
#ifndef FUZZ_KEYS_H
#define FUZZ_KEYS_H

static const char FUZZ_KEY1_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCju+xTwnx8dsOW\n"
    "lw3YTnOSjqX394iuwRJcwKQpXpti677fax6giYY078vP8SxS+QJuxmDAkGFPoIvh\n"
    "Fo3gwlPT80mtKxL6AV+YRozPah2RV7ZISw8iS+Zz11UbW82uD79+rHnsWvjNW26r\n"
    "yXu8aAt1DJtUlj1OsfC2cwsM4rPopPU1nQmKW3/7n71zHcCvLwiLXwNbQgAjSGbK\n"
    "XhXGxdxlswA1TxKesaqcjkw7JMFXgBfDZzlEDfCUnwdnL1o+DLGkQaizRyDxBgsb\n"
    "hD/UVk0ivcmlVF7t3HB7EYKSVyE7wQOJHCA0WH0S57s8aEhFg3BEOblsCnuYIRkG\n"
    "UBno+EzhAgMBAAECggEAQkI1I7wrlk6VXeZo8uTkfiV94nfodxeor6JBjIA9j21p\n"
    "Q45cyYh9qAR2TQMC9dzQ8DUVSDflOUz17jOrXI4nUDk+0nYA6u0NW1kJeJIvvvZo\n"
    "zJ6bVDy02KIGTdj7xfmXe9KeUFiMIMZkZd5WVWshX8+nODbIPoVhrOOnUCKZvYYF\n"
    "3jtsvLwirjs32DmHXHcBdV7bJZzHBOPFY0u28u7Qt1kHBa7TnydnUKC+HZOlZ8Px\n"
    "xePE8SIzaTYEaEMJ0DPA+rJqCG5oI6o7HFqWKvS/VRDM/SNHslvb/EBKpin4wUR5\n"
    "eD1c3ueQVSNYCJgmXW6h5UHum0STWGw7QqFwE7kn9QKBgQDVs5iOAIvsP7OdNaRV\n"
    "d3W/L5pKf0nevLeN7VzegtRpcIc8M9ZswQEfi6G4AIQw2j0sOJSyPyuQFPkQY4kO\n"
    "5M20o+hSku0BCwfHd3vq2r5hq7w3IpE9AFO2SFvevrRLF8UWFC6tj8KLf7UUIGcx\n"
    "/H7qhLw3YaDBu/hxW73kKlAuWwKBgQDEJHDuZ3yqcYKtxhhsLGDW35ytdupjd5Xp\n"
    "gQNlIQCnzggYYg7U7tA1lMyVLAFwehUQfpjG2n9uZQMleFs+X37bz5lRO+MU5zwe\n"
    "/kxSGlYYVSIozepwpjvSG1jlwpVXvtS4gTAoIYRL0ju5hIqhEQgoitYXpXkAF9/q\n"
    "QIxpVkeOcwKBgQCBaD4rT31r1K9ptcAL2Uk+Ow9NqYMMFG96zI/+Vm9WYkQiWqmw\n"
    "Nbf+aEnH6Ngj1SRSEPlKbyJsH6crG3s1v6wphU/8IOjQRuOxEFPDxi6faqWRJaeZ\n"
    "rwcCTRME8aqwBnbcheA2TeXbH7yBsZWMGYCpdzOavc3hQ3iQ/KMi9dSUHQKBgQCl\n"
    "8o75peT77/24OJoBK6rjIV3WBX5ZmZvka5sLvNhpIRAIUS5rSYIvUy2kKA8vspqP\n"
    "0gxAcizOoff/g8zvAKy8HPCCokCGNv3O2yiHbnDZNW4pR87KcFq8cRbNjcv86R/g\n"
    "2qx7x5++5qhRVapUi6xzYMOyTfYJ9ikkcGhb1vvDsQKBgFHZ0uqMmInQPlj/iHA/\n"
    "wGN3NUkG14WOz+Z7hePB8P9O9jLCfoTMAqwD14qjoFhcQ3QLkaIsaDxCnlBE9FM3\n"
    "MvYEKsE9QGSLdu6AiSV2cqo7wjjcSYHsxZBd7ghN1rAkloYbHp5ocWWFcNt2ulEH\n"
    "tCa6DQqEcA0vSoJVB4+9brRk\n"
    "-----END PRIVATE KEY-----\n";

static const char FUZZ_KEY1_PUB_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAo7vsU8J8fHbDlpcN2E5z\n"
    "ko6l9/eIrsESXMCkKV6bYuu+32seoImGNO/Lz/EsUvkCbsZgwJBhT6CL4RaN4MJT\n"
    "0/NJrSsS+gFfmEaMz2odkVe2SEsPIkvmc9dVG1vNrg+/fqx57Fr4zVtuq8l7vGgL\n"
    "dQybVJY9TrHwtnMLDOKz6KT1NZ0Jilt/+5+9cx3Ary8Ii18DW0IAI0hmyl4VxsXc\n"
    "ZbMANU8SnrGqnI5MOyTBV4AXw2c5RA3wlJ8HZy9aPgyxpEGos0cg8QYLG4Q/1FZN\n"
    "Ir3JpVRe7dxwexGCklchO8EDiRwgNFh9Eue7PGhIRYNwRDm5bAp7mCEZBlAZ6PhM\n"
    "4QIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char FUZZ_KEY1_JWK[] =
    "{\"kty\": \"RSA\", \"use\": \"sig\", \"kid\": \"fuzz-key-1\", \"n\": \"o7vsU8J8fHbDlpcN2E5zko6l9_eIrsESXMCkKV6bYuu-32seoImGNO_Lz_EsUvkCbsZgwJBhT6CL4RaN4MJT0_NJrSsS-gFfmEaMz2odkVe2SEsPIkvmc9dVG1vNrg-_fqx57Fr4zVtuq8l7vGgLdQybVJY9TrHwtnMLDOKz6KT1NZ0Jilt_-5-9cx3Ary8Ii18DW0IAI0hmyl4VxsXcZbMANU8SnrGqnI5MOyTBV4AXw2c5RA3wlJ8HZy9aPgyxpEGos0cg8QYLG4Q_1FZNIr3JpVRe7dxwexGCklchO8EDiRwgNFh9Eue7PGhIRYNwRDm5bAp7mCEZBlAZ6PhM4Q\", \"e\": \"AQAB\"}";

static const char FUZZ_KEY2_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCQ1NmTNof6zRJt\n"
    "lcQmFmdmRWZDcQKfku0YnMikxraDETM99RGedLMVM+7pa1ZPbX9NR/2gS1sZzAlc\n"
    "FJ6ZkNLcW7d1yEXGuii582gGV4ZewgGYtheIZQVdv/8XHU/kk8IjY6NaaCmDpbEH\n"
    "ZON9S8NsZITzT8Ddb0W3Bz1FIw/RiSarfgEhXUJZJiNj+QJrh9XJRstUQO0LJUc2\n"
    "EQYU2d78l7eRAKuFM7gz/UG/VASutN8etxP0t0beKYJnwZ6oQIGwptv/d11e+E/m\n"
    "jkH47A7IBGUYn9rWFWs/iKQOpckKvruOJ/TQ0/eE0GyYn8k9o/ZHXqaxEzQwIr9c\n"
    "OSpFcjrnAgMBAAECggEAEIISYrM+gJnLVe5SMz0uf/u9EkbZU7L9j2afgBieSQY2\n"
    "3wMGBResKeiHfNedOOR0NCzWfeTY93HIR1SaV0qonjFeEfDH80TYy4kw/DgRus9G\n"
    "O0/WEtfg6rStsMbIindFE5+RyQZCZR0Htp4LSAbQuZQji1A13YeHXLtYgn7imLFr\n"
    "ZiCgqufzQD0Q+bcOy37h4CfegvRPneHL1GEToQkSk5BXSUyxbMBGoqh7aeJ0TtmJ\n"
    "mo3uEwspMx/ikOCISEA9mDhERgYc7gXHLHFWlJjlDRrPzr0l/7/83//cWtS7vuMC\n"
    "RqQFmgBO6Qlui2JISpZwemLJMcNE/DDvSIPzBjTC0QKBgQDIpapL8xSLRhPihB8D\n"
    "/XyAE53657z8YCD1eBImFza5LLnXD7fnMvP9TCPnxK4uZYXlr7Hp+N8oVaChHn++\n"
    "hy0laBVia6gqusjjZ+pDaNQ5lySpLF8/3lHz5+eMdKurCgTTl3i4ag0ZC8leb1mL\n"
    "r1I0B3kc2Z8gZoTNIKS60jNt4wKBgQC4yU31E6tFfvGWHMh/nEB5ufx6ycVyEQaX\n"
    "ThsdDor3UcnnB1nPCF9HqBFYzSQmtUcVznHqr+1bzI79os10FP6ZEDuB/3lIkdxP\n"
    "szGiGn65gByitxm3p9hrEu0XglyXMi/TNS783QNKcm+YLKxPEpQAUb4SxHOj8onh\n"
    "u7V84PyOLQJ/CvkEVyLz/KnYbIrNJ2q1ZEuuWApUS3j2VHY8h9i9JWNMxnYVmI8w\n"
    "yKlhTUt0OxVSPT1efW0exxXnsuf4FHNQBLusb7VzfOK6GbWVGhqhgITDfHzwuI1v\n"
    "7ebAwu2edbwWh3vBHlSuYrBCUufD/d+Ynz/JX8qG6T6yBIXEfHMCXQKBgQCc4kQu\n"
    "k7FwwlMn6G4NccKH1nDWauIYcv4OjcCVTdiMG8N4QxRroqcKNlXr99b+ih+9EtZC\n"
    "s3So4KZyDruyF3UEzPRI7XayNyw9+lxkTWxT38HwH9ZUx8sFNT9YG1SzBWf3QIsR\n"
    "Ii9+EGRQZXUxeQtwrfXbBzFK+0s2/GAckwO5TQKBgQC0yUbm8l0dEybEYEA7V6FE\n"
    "MCm81gDpNTxIkKBaXGh+EG/mar5WH7s6UF+w5iYtrqAkSuzubT+7WKNTO170U2S/\n"
    "lOepTnY+AE4TZBzfGXyhN2TuQZrHzCFGGgxbJgEr5DKqLLTPGtXJTqq48zjlwpTr\n"
    "+ds18xA8yV8EzYRxeEe/og==\n"
    "-----END PRIVATE KEY-----\n";

static const char FUZZ_KEY2_PUB_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAkNTZkzaH+s0SbZXEJhZn\n"
    "ZkVmQ3ECn5LtGJzIpMa2gxEzPfURnnSzFTPu6WtWT21/TUf9oEtbGcwJXBSemZDS\n"
    "3Fu3dchFxrooufNoBleGXsIBmLYXiGUFXb//Fx1P5JPCI2OjWmgpg6WxB2TjfUvD\n"
    "bGSE80/A3W9Ftwc9RSMP0Ykmq34BIV1CWSYjY/kCa4fVyUbLVEDtCyVHNhEGFNne\n"
    "/Je3kQCrhTO4M/1Bv1QErrTfHrcT9LdG3imCZ8GeqECBsKbb/3ddXvhP5o5B+OwO\n"
    "yARlGJ/a1hVrP4ikDqXJCr67jif00NP3hNBsmJ/JPaP2R16msRM0MCK/XDkqRXI6\n"
    "5wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char FUZZ_KEY2_JWK[] =
    "{\"kty\": \"RSA\", \"use\": \"sig\", \"kid\": \"fuzz-key-2\", \"n\": \"kNTZkzaH-s0SbZXEJhZnZkVmQ3ECn5LtGJzIpMa2gxEzPfURnnSzFTPu6WtWT21_TUf9oEtbGcwJXBSemZDS3Fu3dchFxrooufNoBleGXsIBmLYXiGUFXb__Fx1P5JPCI2OjWmgpg6WxB2TjfUvDbGSE80_A3W9Ftwc9RSMP0Ykmq34BIV1CWSYjY_kCa4fVyUbLVEDtCyVHNhEGFNne_Je3kQCrhTO4M_1Bv1QErrTfHrcT9LdG3imCZ8GeqECBsKbb_3ddXvhP5o5B-OwOyARlGJ_a1hVrP4ikDqXJCr67jif00NP3hNBsmJ_JPaP2R16msRM0MCK_XDkqRXI65w\", \"e\": \"AQAB\"}";

#endif
