CREATE EXTERNAL TABLE IF NOT EXISTS `logdig`.`events` (
  `v` int,
  `event_id` string,
  `event_type` string,
  `timestamp` string,
  `token` string,
  `user_key` string,
  `session_id` string,
  `current_page` string,
  `link` string,
  `referrer` string,
  `x` double,
  `y` double,
  `spent_milli_sec` bigint,
  `engaged_milli_sec` bigint,
  `load_count` bigint,
  `user_agent` string,
  `viewport_width` int,
  `viewport_height` int,
  `document_width` int,
  `document_height` int,
  `screen_width` int,
  `screen_height` int,
  `utm_source` string,
  `utm_medium` string,
  `utm_campaign` string,
  `utm_term` string,
  `utm_content` string,
  `target_tag` string,
  `target_id` string,
  `target_classes` string,
  `target_text` string,
  `outbound` boolean,
  `page_title` string,
  `language` string,
  `props` map<string,string>,
  `received_at` string,
  `client_ip` string
)
PARTITIONED BY (`dt` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json'='true')
LOCATION 's3://YOUR-LAKE-BUCKET/events/'
TBLPROPERTIES (
  'classification'='json',
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2020-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'storage.location.template'='s3://YOUR-LAKE-BUCKET/events/dt=${dt}/'
);
