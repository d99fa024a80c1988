PRAGMA user_version = 3;
BEGIN TRANSACTION;
CREATE TABLE boxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    score REAL,
    source TEXT NOT NULL CHECK (source IN ('model', 'hand', 'import')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    model TEXT,
    box_threshold REAL,
    text_threshold REAL
, auto_accepted INTEGER NOT NULL DEFAULT 0, mask TEXT, mask_score REAL, mask_model TEXT);
INSERT INTO "boxes" VALUES(1,1,1,4.0,3.0,25.0,20.0,0.8,'model','accepted','IDEA-Research/grounding-dino-tiny',0.3,0.25,0,'{"size":[30,40],"counts":"k3a0=000000000000000000000000000000000000000o="}',0.93,'facebook/sam2.1-hiera-tiny');
INSERT INTO "boxes" VALUES(2,1,2,0.0,0.0,10.0,10.0,0.4,'model','pending','IDEA-Research/grounding-dino-tiny',NULL,NULL,0,NULL,NULL,NULL);
INSERT INTO "boxes" VALUES(4,2,2,3.0,4.0,12.0,20.0,NULL,'hand','accepted',NULL,NULL,NULL,0,NULL,NULL,NULL);
INSERT INTO "boxes" VALUES(5,2,1,1.0,1.0,31.0,23.0,NULL,'import','rejected',NULL,NULL,NULL,0,NULL,NULL,NULL);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    aliases TEXT NOT NULL DEFAULT '[]',
    colour TEXT NOT NULL,
    position INTEGER NOT NULL
);
INSERT INTO "classes" VALUES(1,'car','["automobile"]','#aa3300',0);
INSERT INTO "classes" VALUES(2,'person','[]','#3cb44b',1);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    width INTEGER,
    height INTEGER,
    file_size INTEGER,
    file_mtime_ns INTEGER,
    content_hash TEXT,
    state TEXT NOT NULL DEFAULT 'new'
        CHECK (state IN ('new', 'predicted', 'reviewed', 'reviewed-empty')),
    prediction_key TEXT,
    missing INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "images" VALUES(1,'a.png',40,30,103,1796638372764960929,'4f377fb2fa82be00f9d3e2e72c4fed3fe9d19482955cfcf741ee3a7e55339a92','reviewed',NULL,0,0);
INSERT INTO "images" VALUES(2,'b.png',32,24,95,1796638372765118573,'2363bb0be00188bf8a89ec63895338d2df8f033567614fb3fe19a13153fc960a','predicted',NULL,0,0);
INSERT INTO "images" VALUES(3,'c.png',16,16,82,1796638372765194150,'be430bafc2167f38c17dbb0a697b748912ae4025d25c738794a65d78947f9d69','reviewed-empty',NULL,0,0);
INSERT INTO "images" VALUES(4,'gone.png',8,8,77,1796638372765256080,'c6f348f502f707bf0ae7b702a2b61aa691490bcb6a1ac261fdeb04d1640651a5','new',NULL,1,0);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "settings" VALUES('model','"IDEA-Research/grounding-dino-tiny"');
INSERT INTO "settings" VALUES('box_threshold','0.3');
CREATE INDEX boxes_by_image ON boxes(image_id);
CREATE INDEX boxes_by_class ON boxes(class_id);
CREATE INDEX images_by_state ON images(state);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('classes',2);
INSERT INTO "sqlite_sequence" VALUES('boxes',5);
COMMIT;
