-- Firmware over the air (issue 18, docs/gatt.md "Firmware update"): the catalogue of
-- signed images per hardware model with their rollout, named groups of bands for a
-- rollout, and each band's update choice and reminder.
CREATE TABLE firmware_releases (
    id              bigserial PRIMARY KEY,
    model           text NOT NULL,           -- the band's Model Number (0x2A24)
    version         text NOT NULL,           -- its Firmware Revision (0x2A26) once installed
    version_key     integer[] NOT NULL,      -- numeric parts, for ordering: {1,10,0} > {1,9,2}
    notes_en        text NOT NULL DEFAULT '',
    notes_zh        text NOT NULL DEFAULT '',  -- zh-CN
    image           bytea NOT NULL,
    size            integer NOT NULL,
    sha256          bytea NOT NULL,
    signature       bytea NOT NULL,          -- Ed25519 by the vendor over the whole image
    rollout         text NOT NULL DEFAULT 'none'
                    CHECK (rollout IN ('none', 'all', 'percent', 'group')),
    rollout_percent smallint NOT NULL DEFAULT 0 CHECK (rollout_percent BETWEEN 0 AND 100),
    rollout_group   text,
    paused          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model, version)
);

CREATE TABLE firmware_groups (
    name    text NOT NULL,
    band_id text NOT NULL REFERENCES bands ON DELETE CASCADE,
    PRIMARY KEY (name, band_id)
);

-- What the owner chose for the update on offer, and which release the band was last
-- reminded of (one reminder per release).
CREATE TABLE band_firmware (
    band_id             text PRIMARY KEY REFERENCES bands ON DELETE CASCADE,
    release_id          bigint REFERENCES firmware_releases ON DELETE SET NULL,
    choice              text CHECK (choice IN ('now', 'scheduled', 'postponed')),
    scheduled_for       timestamptz,
    postponed_until     timestamptz,
    command_id          text,
    reminded_release_id bigint REFERENCES firmware_releases ON DELETE SET NULL,
    reminded_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
